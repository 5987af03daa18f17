// Package inspect is `vipkeeper status`: from the API alone, one row per VIP with its
// Services, its holder, the age of the holder's last renew, its candidates and its last
// transition.
//
// Invariant: the candidates come from svcrules.Resolve over the same Services,
// EndpointSlices and Nodes the agents read, so the view shows what the agents decide,
// never a second opinion. Build is pure; Gather and Print are the I/O around it.
//
// The holder's last renew is the renewTime of its node presence Lease
// (lease.NodeName(holder)) when one exists, else the VIP Lease's own renewTime. The last
// transition is the VIP Lease's acquireTime, with the reason in the annotation
// lease.AnnotationTransition when present.
package inspect
