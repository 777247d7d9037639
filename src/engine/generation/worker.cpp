#include "engine/generation/worker.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/generation/request_state.hpp"

namespace llmux::engine::generation {

Worker::Worker(std::shared_ptr<const LoadedModel> model, const model::ContextOptions& options,
               const WorkerOptions& worker_options)
    : model_(std::move(model)) {
  const model::HParams& hp = model_->model->hparams();
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : std::min<std::int64_t>(hp.n_ctx_train, 4096);
  const std::int64_t bs = worker_options.block_size;
  if (bs <= 0 || bs > 4096) {
    throw_error(errc::invalid_argument, fmt::format("KV block size {} is not in 1..4096", bs));
  }
  // Storage of a block is allocated when first used, so a generous default costs memory only
  // while that many positions are in use (and keeps it for reuse afterwards).
  std::int64_t kv = worker_options.kv_size > 0 ? worker_options.kv_size
                                               : std::max<std::int64_t>(4 * n_ctx_, 16384);
  if (kv < n_ctx_ + bs) {
    throw_error(errc::invalid_argument,
                fmt::format("KV cache of {} positions is smaller than the context ({}) plus one "
                            "block ({})", kv, n_ctx_, bs));
  }
  const auto type = options.precision == model::Precision::full ? model::KvType::f32
                                                                : model::KvType::f16;
  auto cache = std::make_unique<kv_cache::PagedKvCache>(hp.n_layer, hp.k_dim(), hp.v_dim(),
                                                         n_ctx_, type, bs, (kv + bs - 1) / bs);
  cache_ = cache.get();
  context_ = std::make_unique<model::Context>(model_->model, options, std::move(cache));
  model::Context* ctx = context_.get();
  scheduler_ = std::make_unique<scheduler::Scheduler>(
      *cache_, [ctx](std::span<const model::BatchToken> batch) { return ctx->eval(batch); },
      hp.n_vocab, worker_options.scheduler);
  thread_ = std::thread([this] { loop(); });
}

Worker::~Worker() {
  scheduler_->stop();
  thread_.join();
  scheduler_->abandon(make_error(errc::cancelled, "the local model was unloaded"));
}

void Worker::complete(Job& job, std::exception_ptr error, Response response) {
  job.error = std::move(error);
  job.response = std::move(response);
  job.done.store(true);
  if (job.notify) job.notify();
}

void Worker::submit(std::shared_ptr<Job> job) {
  std::shared_ptr<RequestState> state;
  try {
    RunHooks hooks;
    hooks.on_event = job->on_event;
    hooks.cancel = &job->cancel;
    hooks.submitted = job->submitted;
    state = std::make_shared<RequestState>(
        model_, n_ctx_, job->request, std::move(hooks),
        [job](std::exception_ptr error, Response response) {
          complete(*job, std::move(error), std::move(response));
        });
  } catch (...) {
    complete(*job, std::current_exception(), {});
    return;
  }
  scheduler_->submit(std::move(state));
}

void Worker::cancel(Job& job) {
  job.cancel.store(true);
  scheduler_->wake();
}

void Worker::loop() {
  while (scheduler_->wait_for_work()) {
    try {
      scheduler_->step();
    } catch (const std::exception& e) {
      // Not expected (the planner keeps the cache's accounting): fail what is in flight rather
      // than the process, and go on with the next requests.
      scheduler_->abandon(make_error(errc::server_error,
                                     std::string("local engine step failed: ") + e.what()));
    }
  }
}

}  // namespace llmux::engine::generation
