// The `docker` provider: instances are containers that the local Docker Engine runs from
// one image, each with the upstream's port published on 127.0.0.1, so that tidegate
// reaches them on the host without routes into Docker's bridge networks.
#pragma once

#include <memory>

#include "scaling/provider.h"

namespace tg::scaling {

/// `provider docker image=REF port=N [socket=/var/run/docker.sock] [network=NAME]
/// [label=K=V] [env=K=V ...] [api_version=1.44] [timeout=30s]`.
///
/// Speaks the Engine API at /v1.44 (Docker 25.0 and later; Docker 29 refuses anything
/// older, and unversioned paths are deprecated) over the unix socket. Containers are
/// found by `label=` (default tidegate.group=GROUP); each new one gets that label, the
/// `env=` entries (repeatable), ExposedPorts PORT/tcp, HostConfig.PortBindings PORT/tcp
/// -> 127.0.0.1 with an empty HostPort (Docker picks a free one) and NetworkMode=network.
/// The image must be present: tidegate does not pull.
///
/// list(): GET /containers/json filtered by the label and status=running -> {the Id's 12
/// first characters, "127.0.0.1:<published port>"}; a container without PORT published
/// is skipped. add(n): per container POST /containers/create, POST .../start, GET
/// .../json for the published port; if one step fails the containers this call created
/// are deleted (DELETE ?force=true, in the background) and the call fails. remove(): POST
/// .../stop?t=10 (304 already stopped is fine), DELETE ...?v=true (its anonymous volumes
/// too); 404 means already gone. Failures quote Docker's {"message"}; network, 408, 409,
/// 429 and 5xx are retryable, other statuses (404 "No such image", 400) are not.
///
/// `provider docker mode=swarm service=NAME address=HOST:PORT [socket=] [api_version=]
/// [timeout=]` (mode=containers, the above, is the default): a capacity provider over one
/// replicated Swarm service, whose tasks the routing mesh serves at `address`. list():
/// GET /services/NAME -> `address` once per Spec.Mode.Replicated.Replicas, ids
/// "NAME-1".."NAME-N" (a global service is refused, not retryable). add(n) / remove(k):
/// POST /services/ID/update?version=Version.Index with the whole Spec as read and Replicas
/// + n / - k (never below 1; nothing is posted when the count stays); "update out of
/// sequence" (another writer in between) reads again, up to 3 times. image=, port=,
/// network=, label= and env= are refused in swarm mode, service= and address= in
/// containers mode.
///
/// Throws std::invalid_argument on a missing, unknown or invalid parameter.
std::unique_ptr<Provider> make_docker_provider(const ProviderSpec& spec,
                                               const ProviderContext& context);

}  // namespace tg::scaling
