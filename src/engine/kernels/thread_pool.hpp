// A persistent pool of compute threads for data-parallel loops.
//
// parallel_for(n, fn) calls fn(i, worker) for every i in [0, n) across the pool's threads and
// the calling thread (worker 0 is the caller), and returns when all calls are done. Work is
// split into contiguous ranges, one per thread, so which thread computes an index never changes
// the arithmetic. Nothing is allocated per call. One parallel_for runs at a time per pool: the
// pool belongs to one model context and is driven by one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace llmux::engine::kernels {

class ThreadPool {
 public:
  // n_threads >= 1 counts the calling thread; n_threads - 1 threads are started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return n_threads_; }

  // fn must not throw.
  void parallel_for(std::int64_t n, const std::function<void(std::int64_t, int)>& fn);

 private:
  void worker_loop(int worker);
  void run_range(int worker);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::int64_t n_ = 0;
  const std::function<void(std::int64_t, int)>* fn_ = nullptr;
};

}  // namespace llmux::engine::kernels
