// Media placeholder expansion (spec §3.3, §3.4, §4): each marker becomes begin + N placeholders + end.
#include <gtest/gtest.h>

#include "base/error.h"
#include "prompt/media_placeholders.h"

namespace g4ref {
namespace {

TEST(MediaPlaceholders, TwoImagesAndAudioLayout) {
  // Test-double token counts: image 1 → 3 tokens, image 2 → 2 tokens, audio → 4 frames.
  const std::string s = expand_media_markers("A<|image|>B<|image|><|audio|>C",
                                             {{MediaKind::image, 3, {}}, {MediaKind::image, 2, {}}, {MediaKind::audio, 4, {}}});
  EXPECT_EQ(s,
            "A<|image><|image|><|image|><|image|><image|>B<|image><|image|><|image|><image|>"
            "<|audio><|audio|><|audio|><|audio|><|audio|><audio|>C");
}

TEST(MediaPlaceholders, VideoFramesWithTimestamps) {
  const std::string s = expand_media_markers("<|video|>", {{MediaKind::video, 2, {0.0, 59.99, 61.5}}});
  EXPECT_EQ(s,
            "00:00 <|image><|video|><|video|><image|> 00:59 <|image><|video|><|video|><image|> "
            "01:01 <|image><|video|><|video|><image|>");
  EXPECT_EQ(mmss(3599.9), "59:59");
  EXPECT_EQ(mmss(3600), "60:00");
}

TEST(MediaPlaceholders, MarkerAndItemCountsMustAgree) {
  EXPECT_THROW(expand_media_markers("<|image|><|image|>", {{MediaKind::image, 1, {}}}), Error);
  EXPECT_THROW(expand_media_markers("<|image|>", {{MediaKind::image, 1, {}}, {MediaKind::image, 1, {}}}), Error);
  EXPECT_THROW(expand_media_markers("<|audio|>", {{MediaKind::image, 1, {}}}), Error);
}

}  // namespace
}  // namespace g4ref
