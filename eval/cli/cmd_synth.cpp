// g4ref synth: writes a deterministic synthetic checkpoint with the real names, shapes and dtype.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
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
                  "split into shards of at most this many bytes with model.safetensors.index.json (0: one file); "
                  "a unit may follow: 4GB = 4e9 bytes, 4GiB = 2^32")
      ->transform(CLI::AsSizeValue(true))  // CLI11 applies the transforms last added first
      ->transform(
          [](std::string v) {
            // A negative count would wrap around in the unsigned field; 4e9 is a byte count written as a number.
            if (!v.empty() && v[0] == '-') throw CLI::ValidationError("must not be negative: " + v);
            if (v.find_first_of("eE") != std::string::npos && v.find_first_not_of("0123456789.eE+") == std::string::npos) {
              char* end = nullptr;
              const double d = std::strtod(v.c_str(), &end);
              if (*end == '\0' && d >= 0 && d < 9.2e18 && d == std::floor(d)) return std::to_string(static_cast<uint64_t>(d));
            }
            return v;
          },
          "")
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
