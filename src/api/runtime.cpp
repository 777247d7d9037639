#include <llmux/runtime.hpp>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace llmux {

struct Runtime::Impl {
  explicit Impl(std::size_t threads)
      : context(static_cast<int>(std::max<std::size_t>(threads, 1))),
        work(boost::asio::make_work_guard(context)) {}

  boost::asio::io_context context;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

Runtime::Runtime(std::size_t threads) : impl_(std::make_unique<Impl>(threads)) {
  const std::size_t n = std::max<std::size_t>(threads, 1);
  impl_->threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    impl_->threads.emplace_back([ctx = &impl_->context] { ctx->run(); });
  }
}

Runtime::~Runtime() { stop(); }

boost::asio::any_io_executor Runtime::get_executor() const noexcept {
  return impl_->context.get_executor();
}

boost::asio::io_context& Runtime::context() noexcept { return impl_->context; }

std::size_t Runtime::thread_count() const noexcept { return impl_->threads.size(); }

bool Runtime::running_in_this_thread() const noexcept {
  return impl_->context.get_executor().running_in_this_thread();
}

void Runtime::stop() {
  impl_->work.reset();
  impl_->context.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace llmux
