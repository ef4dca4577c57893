// The `aws` provider: the InService instances of an EC2 Auto Scaling group are the
// upstream's servers, at their private address and the port they serve.
//
//   provider aws group=api-asg region=eu-central-1 port=8080 timeout=5m;
//
// list():   DescribeAutoScalingGroups, then DescribeInstances for the InService ids.
// add(n):   SetDesiredCapacity to the group's desired capacity + n (HonorCooldown=false:
//           tidegate's own cooldowns decided already), then DescribeAutoScalingGroups every
//           timeout/20 (0.1 to 5 s) until n new instances are InService. Instances an earlier
//           add launched but could not report in time count towards the next add, so a
//           retried add does not raise the capacity twice.
// remove(): TerminateInstanceInAutoScalingGroup with ShouldDecrementDesiredCapacity=true
//           for each instance still in the group, so the group ends those, not others.
//
// Requests are the Query APIs (Auto Scaling 2011-01-01, EC2 2016-11-15): form-encoded
// POSTs signed with SigV4, XML answers. Credentials: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the environment when set (read at
// construction), else the instance role's through IMDSv2, refreshed 5 minutes before
// their Expiration. Errors carry AWS's <Code> and <Message>; throttling
// (Throttling, RequestLimitExceeded), ScalingActivityInProgress, ResourceContention,
// 5xx and network errors are retryable, others (ValidationError, AccessDenied, ...)
// are not. Instances usually take a minute or more to be InService, so a `timeout=` of
// a few minutes suits add(); a timed-out add leaves its instances to the next add or
// to the autoscaler's reconcile.
#pragma once

#include <memory>

#include "scaling/provider.h"

namespace tg::scaling {

/// Builds the provider from group=, region= and port= (required), timeout= (30s), and the
/// test overrides endpoint= (https://autoscaling.REGION.amazonaws.com), ec2_endpoint=
/// (https://ec2.REGION.amazonaws.com) and imds= (http://169.254.169.254); throws
/// std::invalid_argument with the [emerg] text.
std::unique_ptr<Provider> make_aws_provider(const ProviderSpec& spec,
                                            const ProviderContext& context);

}  // namespace tg::scaling
