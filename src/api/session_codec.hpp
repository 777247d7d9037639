// The session document's JSON codec (used by Session::to_json / load_json).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <llmux/types.hpp>

namespace llmux::detail {

struct SessionDocument {
  std::string system;
  std::vector<Message> messages;
};

boost::json::array messages_to_json_array(const std::vector<Message>& messages);
std::vector<Message> messages_from_json_array(const boost::json::value& v, const std::string& where);
std::string session_to_json(const std::string& system, const std::vector<Message>& history);
SessionDocument session_from_json(std::string_view text);  // throws InvalidArgumentError

}  // namespace llmux::detail
