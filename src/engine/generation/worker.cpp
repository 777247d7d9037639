#include "engine/generation/worker.hpp"

#include <llmux/error.hpp>

namespace llmux::engine::generation {

Worker::Worker(std::shared_ptr<const LoadedModel> model, const model::ContextOptions& options)
    : model_(std::move(model)), options_(options) {
  // The context is created on the worker thread; its size is known now for callers.
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx
                             : std::min<std::int64_t>(model_->model->hparams().n_ctx_train, 4096);
  thread_ = std::thread([this] { loop(); });
}

Worker::~Worker() {
  std::deque<std::shared_ptr<Job>> abandoned;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    abandoned.swap(queue_);
    if (running_) running_->cancel.store(true);
  }
  cv_.notify_all();
  thread_.join();
  for (auto& job : abandoned) {
    finish(*job, make_error(errc::cancelled, "local model unloaded before the request ran"), {});
  }
}

void Worker::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stop_) {
      queue_.push_back(std::move(job));
      job = nullptr;
    }
  }
  if (job) {
    finish(*job, make_error(errc::cancelled, "local model is shutting down"), {});
    return;
  }
  cv_.notify_one();
}

void Worker::finish(Job& job, std::exception_ptr error, Response response) {
  job.error = std::move(error);
  job.response = std::move(response);
  job.done.store(true);
  if (job.notify) job.notify();
}

void Worker::loop() {
  model::Context ctx(model_->model, options_);
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_ = job;
    }
    std::exception_ptr error;
    Response response;
    try {
      RunHooks hooks;
      hooks.on_event = job->on_event;
      hooks.cancel = &job->cancel;
      hooks.submitted = job->submitted;
      response = run_request(*model_, ctx, job->request, hooks);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      running_.reset();
    }
    finish(*job, std::move(error), std::move(response));
  }
}

}  // namespace llmux::engine::generation
