// lowp/lowp.hpp — everything that needs only the standard library.
// (The Eigen-based solvers are included separately: lowp/gptq.hpp, lowp/lorc.hpp.)
#pragma once

#include "config.hpp"
#include "format_traits.hpp"
#include "types.hpp"
#include "cast.hpp"
#include "format_card.hpp"
