// Runs `llmux mock-server --port 0 …` as a child process for the CLI tests: reads the base URL
// from its first stdout line, stops it with SIGTERM.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/cli_runner.hpp"

namespace llmux::test {

class MockServerProcess {
 public:
  // `args` follow "mock-server"; "--port 0" is added unless a --port is given.
  explicit MockServerProcess(std::vector<std::string> args) {
    bool has_port = false;
    for (const auto& a : args) has_port |= a == "--port";
    std::vector<std::string> argv = {LLMUX_CLI_PATH, "mock-server"};
    if (!has_port) argv.insert(argv.end(), {"--port", "0"});
    argv.insert(argv.end(), args.begin(), args.end());
    err_path_ = std::filesystem::temp_directory_path() /
                ("llmux-mock-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> cargs;
      for (auto& a : argv) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      ::execv(cargs[0], cargs.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_fd_ = out[0];
    first_line_ = read_line(10000);
    const std::string marker = "listening on ";
    auto pos = first_line_.find(marker);
    if (pos != std::string::npos) {
      auto end = first_line_.find(' ', pos + marker.size());
      base_url_ = first_line_.substr(pos + marker.size(), end - pos - marker.size());
    }
  }
  ~MockServerProcess() {
    stop();
    if (out_fd_ >= 0) ::close(out_fd_);
    std::error_code ec;
    std::filesystem::remove(err_path_, ec);
  }
  MockServerProcess(const MockServerProcess&) = delete;
  MockServerProcess& operator=(const MockServerProcess&) = delete;

  // "http://127.0.0.1:PORT", or empty when the server did not start.
  const std::string& base_url() const { return base_url_; }
  const std::string& first_line() const { return first_line_; }

  // SIGTERM, then the exit code (128 + signal if killed by one). Idempotent.
  int stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      pid_ = -1;
    }
    return exit_code_;
  }
  std::string stderr_text() const { return slurp(err_path_); }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string read_line(int timeout_ms) {
    std::string line;
    char c = 0;
    while (line.empty() || line.back() != '\n') {
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      if (::read(out_fd_, &c, 1) != 1) break;
      line += c;
    }
    return line;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int exit_code_ = -1;
  std::filesystem::path err_path_;
  std::string first_line_;
  std::string base_url_;
};

}  // namespace llmux::test
