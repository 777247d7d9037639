// A simulated inference server (the base of `llmux mock-server`): the OpenAI chat-completions and
// Ollama /api/chat protocols, streaming and not, over the loopback TestServer, with the timing of
// a server that has k parallel slots.
//
// Model of the server: a request is admitted to a FIFO queue; when one of the k slots is free the
// oldest waiting request takes it, emits its first token `ttft` later and then one token every
// 1/tokens_per_second, and frees the slot after its last token (or when its client went away).
// A request that finds every slot busy and `queue_limit` requests already waiting is refused at
// once with 503. A fraction `error_rate` of requests is answered at once with `error_status`.
// Timers run on Asio (the transcripts' delays): no thread per request.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "testing/test_server.hpp"

namespace llmux::testing {

struct SimulatorOptions {
  std::size_t slots = 1;                        // parallel generations (>= 1)
  std::chrono::microseconds ttft{0};            // slot granted -> first token
  double tokens_per_second = 0;                 // per slot; 0: every token at once
  std::int64_t output_tokens = 16;              // per answer, unless the request asks for fewer
  double error_rate = 0;                        // fraction of requests answered with error_status
  int error_status = 500;
  std::optional<std::size_t> queue_limit;       // waiting requests beyond the slots; none: no limit
  std::optional<std::uint64_t> seed;            // error draws; none: seeded from random_device
  std::string model = "llmux-mock";             // the model listed and answering when none is named
  bool record_requests = false;                 // keep requests for InferenceServer::requests()
};

// Throws InvalidArgumentError for options no server could have (0 slots, a rate < 0, …).
void validate(const SimulatorOptions& options);

struct SimulatorStats {
  std::size_t active = 0;       // requests holding a slot now
  std::size_t queued = 0;       // requests waiting for a slot now
  std::size_t peak_active = 0;  // most requests ever holding a slot at once
  std::size_t peak_queued = 0;
  std::size_t admitted = 0;     // requests that got a slot or a place in the queue
  std::size_t completed = 0;    // slots released
  std::size_t rejected = 0;     // refused with 503 because the queue was full
  std::size_t errors = 0;       // simulated errors (error_rate)
  std::size_t bad_requests = 0; // malformed bodies, unknown routes
};

// The k slots and the FIFO queue. Thread-safe. A Lease is a slot held: dropping the last copy
// frees the slot and hands it to the oldest waiting request.
class SlotQueue {
 public:
  using Lease = std::shared_ptr<void>;
  using Granted = std::function<void(Lease)>;

  SlotQueue(std::size_t slots, std::optional<std::size_t> queue_limit);

  // Takes a free slot (`granted` runs before admit returns) or joins the queue (`granted` runs
  // when a slot frees up, on the thread that frees it). False, without calling `granted`, when
  // every slot is busy and the queue is full.
  bool admit(Granted granted);

  SimulatorStats stats() const;
  // Counters kept here for the server (errors, malformed requests).
  void count_error();
  void count_bad_request();
  // Forgets every waiting request without granting it (server shutdown); returns how many.
  std::size_t drop_waiting();

  struct State;  // internal
  static Lease make_lease(const std::shared_ptr<State>& state);

 private:
  std::shared_ptr<State> state_;
};

// The simulator behind a loopback HTTP server on 127.0.0.1.
// Routes: POST /v1/chat/completions (also /chat/completions), POST /api/chat, GET /v1/models
// (also /models), GET /api/tags, GET / (health). Other routes: 404; malformed bodies: 400.
// Thread safety: all members may be called from any thread.
class InferenceServer {
 public:
  // Throws InvalidArgumentError for bad options, and the listener's error when the port is taken.
  InferenceServer(Executor executor, SimulatorOptions options, std::uint16_t port = 0);
  ~InferenceServer();
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  std::uint16_t port() const noexcept;
  std::string base_url() const;  // "http://127.0.0.1:PORT"
  SimulatorStats stats() const;
  std::vector<RecordedRequest> requests() const;  // empty unless options.record_requests
  std::size_t connections_accepted() const;
  void stop();                                    // idempotent

 private:
  struct Core;
  std::shared_ptr<Core> core_;
  std::unique_ptr<TestServer> server_;
};

}  // namespace llmux::testing
