// g4ref inspect-image: what the image front end (spec §3.1) makes of a file — its size, the target size
// the budget rule gives, whether it is resampled, the soft-token count and the 48×48 patch grid — and,
// on request, the resized image as a PNG (bit-identical to Pillow's bicubic resize).
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli/common.h"
#include "preprocess/image.h"

namespace g4ref {

namespace {

struct InspectImageArgs {
  std::string file;
  int budget = kDefaultImageBudget;
  std::string resized_out;
  std::string alpha = "drop";
  bool json = false;
};

void inspect_image(const InspectImageArgs& args) {
  const AlphaMode alpha = args.alpha == "composite" ? AlphaMode::composite_white : AlphaMode::drop;
  const PreparedImage p = prepare_image(args.file, args.budget, alpha);
  std::ifstream in(args.file, std::ios::binary);
  const int orientation = exif_orientation(std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}));
  if (!args.resized_out.empty()) write_png(args.resized_out, p.resized);
  const int patch = p.patches.patch;

  if (args.json) {
    nlohmann::json j = {{"file", args.file},
                        {"alpha", args.alpha},
                        {"budget", args.budget},
                        {"exif_orientation", orientation},
                        {"original", {{"height", p.orig_h}, {"width", p.orig_w}}},
                        {"target", {{"height", p.target.height}, {"width", p.target.width}}},
                        {"resampled", p.resampled},
                        {"soft_tokens", p.soft_tokens()},
                        {"grid", {{"rows", p.patches.grid_h}, {"columns", p.patches.grid_w}}},
                        {"patch_size", patch},
                        {"values_per_patch", patch * patch * 3},
                        {"resized_out", args.resized_out.empty() ? nlohmann::json() : nlohmann::json(args.resized_out)}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << "file          " << args.file << "\n"
            << "original      " << p.orig_h << " × " << p.orig_w << " (height × width"
            << (orientation > 1 ? ", upright after EXIF orientation " + std::to_string(orientation) : std::string())
            << "), alpha " << args.alpha << "\n"
            << "budget        " << args.budget << " soft tokens\n"
            << "target        " << p.target.height << " × " << p.target.width << ", "
            << (p.resampled ? "resampled (bicubic, antialiased, as Pillow)" : "not resampled (a fixed point of the size rule)")
            << "\n"
            << "soft tokens   " << p.soft_tokens() << " = " << p.patches.grid_h << " rows × " << p.patches.grid_w
            << " columns of " << patch << "×" << patch << " patches, " << patch * patch * 3 << " values each\n";
  if (!args.resized_out.empty()) std::cout << "resized image " << args.resized_out << "\n";
}

}  // namespace

void add_inspect_image_command(CLI::App& app) {
  auto args = std::make_shared<InspectImageArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect-image", "Prepare an image as the model's image input (target size, resampling, 48×48 patches) and report it");
  cmd->add_option("file", args->file, "image file: PNG, JPEG, BMP, GIF (first frame), PNM or TGA")->required();
  cmd->add_option("--image-tokens", args->budget, "soft-token budget B (one of 70, 140, 280, 560, 1120)")
      ->check(CLI::IsMember({70, 140, 280, 560, 1120}))
      ->capture_default_str();
  cmd->add_option("--resized-out", args->resized_out, "write the resized image to this PNG file");
  cmd->add_option("--alpha", args->alpha,
                  "drop: keep the colour channels (HF and the official code); composite: blend over white as PIL")
      ->check(CLI::IsMember({"drop", "composite"}))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "machine-readable output");
  cmd->callback([args] { inspect_image(*args); });
}

}  // namespace g4ref
