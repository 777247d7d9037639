// The whole llmux public API.
#pragma once

#include <llmux/error.hpp>
#include <llmux/factory.hpp>
#include <llmux/provider.hpp>
#include <llmux/runtime.hpp>
#include <llmux/types.hpp>
