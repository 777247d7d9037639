#include <future>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <llmux/runtime.hpp>

namespace llmux {
namespace {

TEST(Runtime, RunsHandlersOnItsOwnThreads) {
  Runtime rt(3);
  EXPECT_EQ(rt.thread_count(), 3u);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::vector<std::future<void>> done;
  for (int i = 0; i < 64; ++i) {
    auto p = std::make_shared<std::promise<void>>();
    done.push_back(p->get_future());
    boost::asio::post(rt.get_executor(), [&, p] {
      EXPECT_TRUE(rt.running_in_this_thread());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
      p->set_value();
    });
  }
  for (auto& f : done) f.get();
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
  EXPECT_GE(ids.size(), 2u);
  EXPECT_FALSE(rt.running_in_this_thread());
}

TEST(Runtime, StopIsIdempotentAndDestructionJoins) {
  auto rt = std::make_unique<Runtime>(2);
  rt->stop();
  rt->stop();
  rt.reset();
  SUCCEED();
}

TEST(Runtime, ZeroThreadsMeansOne) {
  Runtime rt(0);
  EXPECT_EQ(rt.thread_count(), 1u);
}

}  // namespace
}  // namespace llmux
