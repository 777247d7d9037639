// The compute thread of one loaded model: a FIFO queue of requests run one after another on a
// Context the worker owns. (Continuous batching of many sequences per forward pass replaces
// this one-at-a-time loop in the scheduler; the interface stays: submit and get called back.)
//
// Thread safety: submit() from any thread. Callbacks (Job::on_event and Job::notify) run on the
// worker thread and must not block. Destroying the Worker cancels queued and running jobs,
// completes each (with errc::cancelled) and joins the thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/generation/generator.hpp"

namespace llmux::engine::generation {

struct Job {
  Request request;
  std::function<void(StreamEvent)> on_event;  // optional
  std::function<void()> notify;               // called once, after `done` is set
  std::atomic<bool> cancel{false};            // set from any thread to stop at the next token
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();

  // Results, valid once `done` is true.
  std::atomic<bool> done{false};
  std::exception_ptr error;
  Response response;
};

class Worker {
 public:
  Worker(std::shared_ptr<const LoadedModel> model, const model::ContextOptions& options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void submit(std::shared_ptr<Job> job);
  const LoadedModel& model() const noexcept { return *model_; }
  std::int64_t n_ctx() const noexcept { return n_ctx_; }

 private:
  void loop();
  static void finish(Job& job, std::exception_ptr error, Response response);

  std::shared_ptr<const LoadedModel> model_;
  model::ContextOptions options_;
  std::int64_t n_ctx_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> running_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace llmux::engine::generation
