// The compute thread of one loaded model: every request submitted to it becomes a sequence of
// the model's continuous-batching scheduler (scheduler/scheduler.hpp) over a paged KV cache, so
// concurrent requests share forward passes. One thread per loaded model, none per request.
//
// Thread safety: submit() and cancel() from any thread. Callbacks (Job::on_event and
// Job::notify) run on the worker thread (notify may also run in submit's caller when the
// request is rejected at once) and must not block. Destroying the Worker completes every queued
// and running job with errc::cancelled and joins the thread.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <thread>

#include "engine/generation/generator.hpp"
#include "engine/kv_cache/paged_kv_cache.hpp"
#include "engine/scheduler/scheduler.hpp"

namespace llmux::engine::generation {

struct Job {
  Request request;
  std::function<void(StreamEvent)> on_event;  // optional
  std::function<void()> notify;               // called once, after `done` is set
  std::atomic<bool> cancel{false};            // set through Worker::cancel to stop the request
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();

  // Results, valid once `done` is true.
  std::atomic<bool> done{false};
  std::exception_ptr error;
  Response response;
};

struct WorkerOptions {
  // Positions of the shared paged KV cache, over all sequences; 0: the larger of 4 x the
  // context size and 16384. At least the context size plus one block (one request of full
  // length always fits). Blocks take memory when first used.
  std::int64_t kv_size = 0;
  std::int64_t block_size = 16;
  scheduler::SchedulerOptions scheduler;
};

class Worker {
 public:
  Worker(std::shared_ptr<const LoadedModel> model, const model::ContextOptions& options,
         const WorkerOptions& worker_options = {});
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues the request. A request whose options or prompt are invalid (or whose prompt does
  // not fit the context) completes at once, before submit returns.
  void submit(std::shared_ptr<Job> job);
  // Stops the job at the next step (its blocks are freed then). Idempotent.
  void cancel(Job& job);

  const LoadedModel& model() const noexcept { return *model_; }
  std::int64_t n_ctx() const noexcept { return n_ctx_; }
  // Whether the caller is the worker's compute thread (which must not destroy the Worker: a
  // thread cannot join itself; callbacks that may release the last owner hand it elsewhere).
  bool on_worker_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }
  // For tests and benchmarks: the cache (read it only while no request runs) and counters.
  const kv_cache::PagedKvCache& cache() const noexcept { return *cache_; }
  scheduler::SchedulerStats stats() const { return scheduler_->stats(); }

 private:
  void loop();
  static void complete(Job& job, std::exception_ptr error, Response response);

  std::shared_ptr<const LoadedModel> model_;
  std::int64_t n_ctx_ = 0;
  kv_cache::PagedKvCache* cache_ = nullptr;  // owned by context_
  std::unique_ptr<model::Context> context_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::thread thread_;
};

}  // namespace llmux::engine::generation
