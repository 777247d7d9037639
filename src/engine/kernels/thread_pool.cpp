#include "engine/kernels/thread_pool.hpp"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLMUX_PAUSE() _mm_pause()
#else
#define LLMUX_PAUSE() std::this_thread::yield()
#endif

namespace llmux::engine::kernels {
namespace {

// Spin for up to this long before sleeping: longer than the gaps between the calls of one
// forward pass, far shorter than the time between requests.
constexpr auto kSpinFor = std::chrono::microseconds(200);

// Spins (with pause) until done() or kSpinFor has passed; returns done().
template <class Done>
bool spin_until(Done done) {
  const auto until = std::chrono::steady_clock::now() + kSpinFor;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      LLMUX_PAUSE();
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), shares_(new Share[static_cast<std::size_t>(n_threads_)]) {
  threads_.reserve(static_cast<std::size_t>(n_threads_ - 1));
  for (int w = 1; w < n_threads_; ++w) threads_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run_tasks(int worker) {
  const auto& fn = *fn_;
  // Its own share first, then the others' in turn.
  for (int k = 0; k < n_threads_; ++k) {
    Share& share = shares_[static_cast<std::size_t>((worker + k) % n_threads_)];
    for (;;) {
      const std::int64_t i = share.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= share.end) break;
      fn(i, worker);
    }
  }
}

void ThreadPool::worker_loop(int worker) {
  std::uint64_t seen = 0;
  for (;;) {
    const auto started = [&] { return generation_.load() != seen || stop_.load(); };
    if (!spin_until(started)) {
      std::unique_lock lock(mutex_);
      sleepers_.fetch_add(1);
      start_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    if (stop_.load()) return;
    seen = generation_.load();
    run_tasks(worker);
    if (pending_.fetch_sub(1) == 1 && caller_asleep_.load()) {
      std::lock_guard lock(mutex_);  // the caller is in wait() or about to recheck under the lock
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(std::int64_t n, const std::function<void(std::int64_t, int)>& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    for (std::int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  fn_ = &fn;
  for (int w = 0; w < n_threads_; ++w) {
    Share& share = shares_[static_cast<std::size_t>(w)];
    share.next.store(n * w / n_threads_, std::memory_order_relaxed);
    share.end = n * (w + 1) / n_threads_;
  }
  pending_.store(n_threads_ - 1);
  generation_.fetch_add(1);  // publishes the shares and fn_ (sequentially consistent)
  if (sleepers_.load() > 0) {
    { std::lock_guard lock(mutex_); }  // a worker between its check and its wait has waited
    start_cv_.notify_all();
  }
  run_tasks(0);
  if (!spin_until([&] { return pending_.load() == 0; })) {
    std::unique_lock lock(mutex_);
    caller_asleep_.store(true);
    done_cv_.wait(lock, [&] { return pending_.load() == 0; });
    caller_asleep_.store(false);
  }
  fn_ = nullptr;
}

}  // namespace llmux::engine::kernels
