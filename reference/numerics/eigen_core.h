#pragma once
// Eigen's Core for every file of the project: include this, not <Eigen/Core>.
//
// On an AVX-512 machine the native build (-march=native) makes GCC 12 warn hundreds of times per file that uses
// Eigen's float or double products: "'__Y' may be used uninitialized" / "is used uninitialized", inside GCC's own
// avx512fintrin.h, where intrinsics such as _mm512_unpacklo_ps start from a deliberately undefined vector
// (_mm512_undefined_ps) and Eigen's packet math inlines them. The warnings are false positives of that compiler
// version (GCC 13 is silent), and they would drown every real warning of the build. GCC attributes them to the lines
// of the intrinsics headers, which are first read here, so silencing the two warnings around this include silences
// exactly those lines: the project's own code keeps both warnings.
#pragma GCC diagnostic push
#if !defined(__clang__)  // clang has no -Wmaybe-uninitialized and would warn that the group is unknown
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <Eigen/Core>  // IWYU pragma: export
#pragma GCC diagnostic pop
