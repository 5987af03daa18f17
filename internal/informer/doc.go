// Package informer builds client-go informers that resume within about half a second of
// the API server answering again, however long it was away.
//
// client-go's reflector retries a failed list or watch after a backoff that doubles from
// 0.8 s to 30 s and is not configurable through shared informers, so after a long outage a
// node learned of the recovery up to half a minute late (issue: the VIP came back 13-17 s
// after kube-apiserver did). Patient wraps a ListerWatcher so that a transient failure
// (network errors, 5xx, 429, timeouts) is retried inside the call every Interval, with
// jitter, until it succeeds or the informer stops; the reflector sees one slow call instead
// of a failure, and its backoff never grows. Other errors (403, 404, 410 Gone) pass through
// at once, for the reflector to handle as it does.
//
// Invariant: a Patient call returns only with a result, a non-transient error, or when its
// context ends; it never retries faster than Interval/2.
package informer
