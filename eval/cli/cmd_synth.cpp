// g4ref synth: writes a deterministic synthetic checkpoint with the real names, shapes and dtype.
#include <chrono>
#include <iostream>

#include "cli/common.h"
#include "convert/synth.h"

namespace g4ref {

void add_synth_command(CLI::App& app) {
  auto opts = std::make_shared<SynthOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "synth", "Write a synthetic checkpoint (random bf16 weights, real tensor names and shapes) to a directory");
  cmd->add_option("--preset", opts->preset, "tiny (every feature, ~2 MB), small, or 12b (the full shape, ~24 GB)")
      ->check(CLI::IsMember(synth_preset_names()))
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "weights are a pure function of the seed")->capture_default_str();
  cmd->add_option("--out", opts->out_dir, "output directory")->required();
  cmd->add_option("--shard-bytes", opts->max_shard_bytes,
                  "split into shards of at most this many bytes with model.safetensors.index.json (0: one file)")
      ->capture_default_str();
  cmd->add_flag("--force", opts->force, "overwrite a checkpoint already in the directory");
  cmd->add_flag("--json", *json, "machine-readable output");
  cmd->callback([opts, json] {
    const auto t0 = std::chrono::steady_clock::now();
    const SynthSummary s = write_synthetic_checkpoint(*opts);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (*json) {
      nlohmann::json j = {{"preset", opts->preset}, {"seed", opts->seed}, {"out", opts->out_dir},
                          {"parameters", s.parameters}, {"tensors", s.tensors}, {"tensor_bytes", s.bytes},
                          {"files", s.files}, {"seconds", seconds}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "wrote " << opts->preset << " (seed " << opts->seed << ") to " << opts->out_dir << ": "
                << s.tensors << " tensors, " << s.parameters << " parameters, " << s.bytes << " bytes of bf16 in "
                << s.files.size() << " files, " << seconds << " s\n"
                << "the weights are random: outputs carry no meaning, only the code path is the real model's\n";
    }
  });
}

}  // namespace g4ref
