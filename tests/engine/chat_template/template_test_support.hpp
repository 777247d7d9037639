// Helpers shared by the chat-template tests.
#pragma once

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace llmux::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The clock of the reference renderings: 2024-07-26 12:00, a Friday.
inline std::tm fixed_time() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  tm.tm_wday = 5;
  tm.tm_yday = 207;
  return tm;
}

}  // namespace llmux::test
