#include "testing/inference_sim.hpp"

#include <atomic>
#include <cmath>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "testing/inference_wire.hpp"

namespace llmux::testing {

// ---- SlotQueue -------------------------------------------------------------------------------

struct SlotQueue::State {
  std::mutex mu;
  std::size_t slots = 1;
  std::optional<std::size_t> limit;
  std::deque<Granted> waiting;
  SimulatorStats stats;

  void note_peaks() {
    stats.peak_active = std::max(stats.peak_active, stats.active);
    stats.peak_queued = std::max(stats.peak_queued, stats.queued);
  }
};

namespace {

// Frees its slot when destroyed: the oldest waiting request takes it over.
struct LeaseToken {
  explicit LeaseToken(std::shared_ptr<SlotQueue::State> s) : state(std::move(s)) {}
  LeaseToken(const LeaseToken&) = delete;
  LeaseToken& operator=(const LeaseToken&) = delete;
  ~LeaseToken();
  std::shared_ptr<SlotQueue::State> state;
};

}  // namespace

SlotQueue::Lease SlotQueue::make_lease(const std::shared_ptr<State>& state) {
  return std::make_shared<LeaseToken>(state);
}

LeaseToken::~LeaseToken() {
  SlotQueue::Granted next;
  {
    std::lock_guard lock(state->mu);
    --state->stats.active;
    ++state->stats.completed;
    if (!state->waiting.empty()) {
      next = std::move(state->waiting.front());
      state->waiting.pop_front();
      --state->stats.queued;
      ++state->stats.active;
      state->note_peaks();
    }
  }
  // A Granted only schedules work (it never drops a lease synchronously), so this cannot recurse.
  if (next) next(SlotQueue::make_lease(state));
}

SlotQueue::SlotQueue(std::size_t slots, std::optional<std::size_t> queue_limit)
    : state_(std::make_shared<State>()) {
  state_->slots = std::max<std::size_t>(slots, 1);
  state_->limit = queue_limit;
}

bool SlotQueue::admit(Granted granted) {
  {
    std::lock_guard lock(state_->mu);
    SimulatorStats& s = state_->stats;
    if (s.active >= state_->slots) {
      if (state_->limit && s.queued >= *state_->limit) {
        ++s.rejected;
        return false;
      }
      ++s.admitted;
      ++s.queued;
      state_->waiting.push_back(std::move(granted));
      state_->note_peaks();
      return true;
    }
    ++s.admitted;
    ++s.active;
    state_->note_peaks();
  }
  granted(make_lease(state_));
  return true;
}

SimulatorStats SlotQueue::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

void SlotQueue::count_error() {
  std::lock_guard lock(state_->mu);
  ++state_->stats.errors;
}

void SlotQueue::count_bad_request() {
  std::lock_guard lock(state_->mu);
  ++state_->stats.bad_requests;
}

std::size_t SlotQueue::drop_waiting() {
  std::deque<Granted> dropped;
  {
    std::lock_guard lock(state_->mu);
    dropped.swap(state_->waiting);
    state_->stats.queued = 0;
  }
  return dropped.size();  // destroyed here, outside the lock
}

// ---- options -----------------------------------------------------------------------------------

void validate(const SimulatorOptions& o) {
  auto bad = [](std::string message) { throw_error(errc::invalid_argument, std::move(message)); };
  if (o.slots < 1) bad("slots must be at least 1");
  if (o.ttft.count() < 0) bad("time to first token must be >= 0");
  if (!std::isfinite(o.tokens_per_second) || o.tokens_per_second < 0) {
    bad("tokens per second must be a finite number >= 0 (0: no delay between tokens)");
  }
  if (o.output_tokens < 0) bad("output tokens must be >= 0");
  if (!(o.error_rate >= 0 && o.error_rate <= 1)) bad("error rate must be in [0, 1]");
  if (o.error_status < 400 || o.error_status > 599) bad("error status must be in 400..599");
  if (o.model.empty()) bad("the model name must not be empty");
}

// ---- the server ---------------------------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a granted request needs to plan its answer; shared, immutable.
struct Planner {
  SimulatorOptions options;
  std::chrono::microseconds interval{0};

  Transcript answer(const ChatCall& call, std::uint64_t sequence, Clock::time_point arrival) const {
    std::int64_t n = options.output_tokens;
    Generation g;
    if (call.max_tokens && *call.max_tokens < n) {
      n = *call.max_tokens;
      g.truncated = true;
    }
    g.tokens = plan_tokens(sequence, n);
    g.model = call.model.empty() ? options.model : call.model;
    g.id = fmt::format("chatcmpl-mock-{}", sequence);
    g.created = unix_now();
    g.ttft = options.ttft;
    g.token_interval = interval;
    g.queued = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - arrival);
    return render_generation(call, g, call.prompt_tokens);
  }
};

std::shared_ptr<const Planner> make_planner(SimulatorOptions o) {
  auto p = std::make_shared<Planner>();
  if (o.tokens_per_second > 0) p->interval = std::chrono::microseconds(std::llround(1e6 / o.tokens_per_second));
  p->options = std::move(o);
  return p;
}

}  // namespace

struct InferenceServer::Core {
  explicit Core(SimulatorOptions o)
      : queue(o.slots, o.queue_limit),
        rng(o.seed ? *o.seed : std::random_device{}()),
        planner(make_planner(std::move(o))) {}

  const SimulatorOptions& options() const { return planner->options; }
  void handle(const RecordedRequest& request, Responder respond);
  void handle_chat(ChatProtocol protocol, const RecordedRequest& request, Responder respond);
  bool draw_error();

  SlotQueue queue;
  std::mutex rng_mu;
  std::mt19937_64 rng;
  std::atomic<std::uint64_t> sequence{0};
  std::shared_ptr<const Planner> planner;
  const std::int64_t created = unix_now();
};

bool InferenceServer::Core::draw_error() {
  const double rate = options().error_rate;
  if (rate <= 0) return false;
  std::lock_guard lock(rng_mu);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < rate;
}

void InferenceServer::Core::handle_chat(ChatProtocol protocol, const RecordedRequest& request,
                                        Responder respond) {
  std::string error;
  std::optional<ChatCall> call = parse_chat_call(protocol, request.body, error);
  if (!call) {
    queue.count_bad_request();
    respond(render_error(protocol, 400, error));
    return;
  }
  if (draw_error()) {
    queue.count_error();
    respond(render_error(protocol, options().error_status, "simulated error (llmux mock-server)"));
    return;
  }
  const std::uint64_t seq = sequence.fetch_add(1) + 1;
  const Clock::time_point arrival = Clock::now();
  SlotQueue::Granted granted = [planner = planner, call = *call, seq, arrival,
                                respond](SlotQueue::Lease lease) {
    Transcript t = planner->answer(call, seq, arrival);
    t.hold = std::move(lease);
    respond(std::move(t));
  };
  if (!queue.admit(std::move(granted))) {
    respond(render_error(protocol, 503, "server busy: the request queue is full"));
  }
}

void InferenceServer::Core::handle(const RecordedRequest& request, Responder respond) {
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  ChatProtocol protocol = path.starts_with("/api/") ? ChatProtocol::ollama : ChatProtocol::openai;
  if (path == "/v1/chat/completions" || path == "/chat/completions" || path == "/api/chat") {
    if (post) return handle_chat(protocol, request, std::move(respond));
  } else if (path == "/v1/models" || path == "/models") {
    if (get) return respond(render_openai_models(options().model, created));
  } else if (path == "/api/tags") {
    if (get) return respond(render_ollama_tags(options().model));
  } else if (path == "/" || path == "/health") {
    if (get) return respond(Transcript::response(200, "llmux mock-server is running", "text/plain"));
  } else {
    queue.count_bad_request();
    return respond(render_error(protocol, 404, fmt::format("no route for {} {}", request.method, path)));
  }
  queue.count_bad_request();
  respond(render_error(protocol, 405, fmt::format("{} is not allowed on {}", request.method, path)));
}

InferenceServer::InferenceServer(Executor executor, SimulatorOptions options, std::uint16_t port) {
  validate(options);
  const bool record = options.record_requests;
  core_ = std::make_shared<Core>(std::move(options));
  AsyncHandler handler = [core = core_](const RecordedRequest& r, Responder respond) {
    core->handle(r, std::move(respond));
  };
  ServerOptions server_options;
  server_options.record_requests = record;
  server_ = std::make_unique<TestServer>(std::move(executor), std::move(handler), port, server_options);
}

InferenceServer::~InferenceServer() { stop(); }

std::uint16_t InferenceServer::port() const noexcept { return server_->port(); }
std::string InferenceServer::base_url() const { return server_->base_url(); }
SimulatorStats InferenceServer::stats() const { return core_->queue.stats(); }
std::vector<RecordedRequest> InferenceServer::requests() const { return server_->requests(); }
std::size_t InferenceServer::connections_accepted() const { return server_->connections_accepted(); }

void InferenceServer::stop() {
  server_->stop();
  core_->queue.drop_waiting();
}

}  // namespace llmux::testing
