// The `kubernetes` provider: scales a Deployment through its scale subresource and finds
// its pods' addresses in the EndpointSlices of the Service in front of it, so that an
// instance is listed only once Kubernetes itself counts it ready.
#pragma once

#include <memory>

#include "scaling/provider.h"

namespace tg::scaling {

/// `provider kubernetes deployment=NAME port=N [service=NAME] [namespace=NS]
/// [kubeconfig=PATH [context=NAME]] [timeout=30s]`.
///
/// Access: with kubeconfig=, its current context (or context=) names the cluster's
/// `server`, its `certificate-authority` (a path, relative to the file) or
/// `certificate-authority-data`, and the user's `token` or `tokenFile`; a user with only
/// client certificates or an exec/auth-provider plugin is refused. Without it, the
/// in-cluster service account: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
/// its token, ca.crt and namespace files. Token files are read again for every request
/// (kubelet rotates bound tokens); TLS is always verified. Namespace: namespace=, else the
/// context's, else the service account's, else "default". service= defaults to the
/// deployment's name. Hidden, for tests: api=URL, token_file=, ca_file=, namespace_file=
/// and poll= (the add() poll interval, 1s).
///
/// list(): the endpoints of every EndpointSlice labelled
/// kubernetes.io/service-name=SERVICE whose `conditions.ready` is not false and whose
/// targetRef is a Pod: {pod name, "IP:port"} with port= (IPv6 bracketed).
/// add(n): reads the Deployment's scale, PUTs it back with spec.replicas + n under the
/// resourceVersion read (a 409 Conflict reads again, 5 attempts in all), then polls the
/// slices every second until n ready pods that were not there before appear. At the
/// timeout it reports those that did, or fails (retryable) if none did: the rest join at
/// the next list().
/// remove(): annotates each pod controller.kubernetes.io/pod-deletion-cost=-2147483648
/// (strategic merge patch), then lowers replicas by the pods annotated, so that the
/// ReplicaSet deletes those. A pod already gone (404) counts as removed but lowers
/// nothing: the ReplicaSet has replaced it already, and lowering would take an undrained
/// pod. Failures: network, 409, 429 and 5xx are retryable, other statuses not; messages
/// name the request and quote the API's Status message. Throws std::invalid_argument on a
/// missing, unknown or invalid parameter or an unusable kubeconfig.
std::unique_ptr<Provider> make_kubernetes_provider(const ProviderSpec& spec,
                                                   const ProviderContext& context);

}  // namespace tg::scaling
