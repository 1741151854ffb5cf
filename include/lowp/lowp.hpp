// lowp/lowp.hpp — everything that needs only the standard library: the formats, bulk
// and packed conversions, scale policies, quantizers, metrics and the W4A8 linear layer.
// (The Eigen-based headers are included by name: lowp/eigen.hpp, lowp/gptq.hpp,
// lowp/lorc.hpp; link lowp::solvers for them.)
#pragma once

#include "bulk.hpp"
#include "cast.hpp"
#include "config.hpp"
#include "format_card.hpp"
#include "format_traits.hpp"
#include "metrics.hpp"
#include "packed.hpp"
#include "quantize.hpp"
#include "scale.hpp"
#include "shift_cast.hpp"
#include "types.hpp"
#include "w4a8.hpp"
