// A persistent pool of compute threads for data-parallel loops.
//
// parallel_for(n, fn) calls fn(i, worker) for every i in [0, n) across the pool's threads and
// the calling thread (worker 0 is the caller), and returns when all calls are done. The indices
// are split into one contiguous share per thread; a thread takes its own share's indices in
// order (so the rows a matrix product reads form one stream that the hardware prefetcher
// follows: interleaving small tasks between threads cost a quarter of the decode speed), then
// takes what is left of the others' shares, one index at a time from their counters, so a
// thread that is slowed down (another process, a page fault) does not hold the others back.
// Which thread computes an index never changes the arithmetic (fn writes disjoint outputs;
// per-thread scratch is indexed by worker).
// Nothing is allocated per call. One parallel_for runs at a time per pool: the pool belongs to
// one model context and is driven by one thread.
//
// Waiting: between calls, threads spin briefly (a forward pass issues hundreds of calls a few
// microseconds apart) and then sleep on a condition variable, so an idle pool costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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
  void run_tasks(int worker);

  struct alignas(64) Share {  // one thread's contiguous indices [next, end)
    std::atomic<std::int64_t> next{0};
    std::int64_t end = 0;
  };

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<std::uint64_t> generation_{0};
  std::unique_ptr<Share[]> shares_;  // one per thread
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};     // workers waiting on start_cv_
  std::atomic<bool> caller_asleep_{false};
  std::atomic<bool> stop_{false};
  const std::function<void(std::int64_t, int)>* fn_ = nullptr;
};

}  // namespace llmux::engine::kernels
