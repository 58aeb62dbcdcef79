// g4ref — the command-line front end of the Gemma 4 12B Unified reference implementation.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/common.h"
#include "base/error.h"

int main(int argc, char** argv) {
  CLI::App app{"g4ref: reference implementation and evaluation suite for Gemma 4 12B Unified"};
  app.require_subcommand(1);
  app.set_version_flag("--version", G4REF_VERSION);
  g4ref::add_synth_command(app);
  g4ref::add_tokenize_command(app);
  g4ref::add_detokenize_command(app);
  g4ref::add_template_command(app);
  g4ref::add_serve_command(app);
  g4ref::add_run_command(app);
  g4ref::add_demo_command(app);
  g4ref::add_chat_command(app);
  g4ref::add_inspect_audio_command(app);
  g4ref::add_inspect_image_command(app);
  g4ref::add_trace_command(app);
  g4ref::add_explain_command(app);
  g4ref::add_compare_command(app);
  g4ref::add_envelope_command(app);
  g4ref::add_export_gguf_command(app);
  g4ref::add_crosscheck_command(app);
  g4ref::add_eval_command(app);
  g4ref::add_memory_command(app);
  g4ref::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const g4ref::Error& e) {
    std::cerr << "g4ref: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "g4ref: error: " << e.what() << "\n";
    return 1;
  }
  return g4ref::exit_code();
}
