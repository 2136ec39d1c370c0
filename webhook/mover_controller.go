package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// Event reasons of the mover (design brief).
const (
	ReasonMoving      = "XRMoving"
	ReasonMoveBlocked = "XRMoveBlocked"
)

// Why a move is blocked: the reason label of kubexr_moves_blocked_total.
const (
	blockedPDB           = "pdb"
	blockedNoController  = "no-controller"
	blockedNothingElse   = "nothing-eligible"
	blockedRateLimit     = "rate-limit"
	moveAction           = "Move"
	defaultMovesPerMin   = 10
	defaultFlightTimeout = 2 * time.Minute
)

// Mover closes the loop after admission (the Act of observe → orient → decide → act): a
// placed pod whose cluster has left the pod's bound for the pod's move delay is evicted
// through the Eviction API, so its controller recreates it and the pod webhook places the
// replacement by the current measurements; a pod admitted while no cluster qualified
// (stranded Pending) is deleted once one does. Only the leader runs it.
type Mover struct {
	evaluator
	Client client.Client
	// Evictions posts pods/eviction (see evict).
	Evictions rest.Interface
	Store     *Store
	Recorder  Recorder
	Metrics   *Metrics
	// FlightTimeout is how long a workload's move may take (its replacement Ready)
	// before the next pod of the workload may move anyway.
	FlightTimeout time.Duration

	window *moveWindow
	state  *moveState
}

// NewMover returns a mover limited to movesPerMinute evictions in any minute; evictions
// go through core's REST client (CoreV1().RESTClient()).
func NewMover(e evaluator, c client.Client, evictions rest.Interface, store *Store, rec Recorder, m *Metrics, movesPerMinute int) *Mover {
	return &Mover{evaluator: e, Client: c, Evictions: evictions, Store: store, Recorder: rec, Metrics: m,
		FlightTimeout: defaultFlightTimeout, window: newMoveWindow(movesPerMinute, time.Minute), state: newMoveState()}
}

// reconcileTimeout bounds one judgement, so a hung API call never stalls the mover.
const reconcileTimeout = 30 * time.Second

// Reconcile judges one placed pod. It is idempotent and ignores what triggered it: a pod
// change, a new measurement snapshot, or a requeue when the move delay ends.
func (m *Mover) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	pod := &corev1.Pod{}
	if err := m.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	finished := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.DeletionTimestamp != nil || finished || pod.Annotations[policy.AnnotationDecision] == "" {
		m.state.forget(pod.UID) // nothing to move: going, done, or never placed
		return reconcile.Result{}, nil
	}
	snap := m.Store.Load()
	if snap == nil {
		return reconcile.Result{RequeueAfter: resyncEvery}, nil
	}
	ev, srcs, err := m.evaluate(ctx, snap, &pod.ObjectMeta, pod.Namespace)
	switch {
	case err != nil && isHintError(err):
		return reconcile.Result{}, nil // its hint went bad since admission: nothing to judge it by
	case err != nil:
		return reconcile.Result{}, err
	case !ev.Hint.Present():
		return reconcile.Result{}, m.endEpisode(ctx, pod)
	}
	if pod.Spec.NodeName == "" {
		return reconcile.Result{}, m.replaceStranded(ctx, pod, ev, srcs)
	}
	cluster, ready, err := m.nodeCluster(ctx, pod.Spec.NodeName)
	if err != nil {
		return reconcile.Result{}, err
	}
	a := ev.Assess(cluster, ready)
	if a.Within || ev.Hint.Move != policy.MoveAuto {
		// Within the bound, or out of it and staying (never, the default).
		return reconcile.Result{}, m.endEpisode(ctx, pod)
	}
	since, err := m.outOfBoundSince(ctx, pod)
	if err != nil {
		return reconcile.Result{}, err
	}
	now := m.Clock.Now()
	if due := ev.MoveDue(since); now.Before(due) {
		return reconcile.Result{RequeueAfter: due.Sub(now)}, nil
	}
	return m.move(ctx, pod, ev, srcs, outOfBound{cluster: cluster, a: a, since: since})
}

// outOfBound is what the Events say about a pod's current cluster.
type outOfBound struct {
	cluster string
	a       policy.Assessment
	since   time.Time
}

func (o outOfBound) String() string { return o.cluster + " (" + o.a.Detail + ")" }

// move evicts the pod if every safety rule allows it, else reports why not.
func (m *Mover) move(ctx context.Context, pod *corev1.Pod, ev policy.Evaluation, srcs xrkube.PodSources, o outOfBound) (reconcile.Result, error) {
	if why := policy.NotRecreated(metav1.GetControllerOfNoCopy(pod)); why != "" {
		m.blocked(pod, srcs, blockedNoController, "cannot move out of %s: %s", o, why)
		return reconcile.Result{}, nil
	}
	if !ev.HasAlternative(o.cluster) {
		why := "no other cluster qualifies for bound " + policy.FormatRTT(ev.Decision.Bound) + " now"
		if ev.Decision.Reason != "" {
			why += " (" + ev.Decision.Reason + ")"
		}
		m.blocked(pod, srcs, blockedNothingElse, "cannot move out of %s: %s; it stays until one does", o, why)
		return reconcile.Result{}, nil // the next snapshot re-judges it
	}
	now := m.Clock.Now()
	if wait := m.state.waitFor(pod.UID, now); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil // a refused eviction's backoff
	}
	workload := workloadKey(pod, srcs)
	if m.busy(ctx, workload) {
		return reconcile.Result{RequeueAfter: 2 * time.Second}, nil
	}
	ok, retry := m.window.take(now)
	if !ok {
		m.blocked(pod, srcs, blockedRateLimit, "cannot move out of %s yet: xr-webhook moves at most %d pods a minute; retrying in %s",
			o, m.window.limit, retry.Round(time.Second))
		return reconcile.Result{RequeueAfter: retry}, nil
	}
	err := m.evict(ctx, pod)
	switch {
	case apierrors.IsTooManyRequests(err):
		m.window.giveBack(now)
		wait := m.state.nextBackoff(pod.UID, now)
		m.blocked(pod, srcs, blockedPDB, "cannot move out of %s: the eviction was refused (%v); retrying with backoff, never forced",
			o, err)
		return reconcile.Result{RequeueAfter: wait}, nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		m.window.giveBack(now)
		return reconcile.Result{}, nil // gone, or already replaced
	case err != nil:
		m.window.giveBack(now)
		return reconcile.Result{}, fmt.Errorf("evict pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	m.state.startFlight(workload, flight{controller: metav1.GetControllerOfNoCopy(pod).UID, at: now})
	m.state.forget(pod.UID)
	m.Metrics.Moves.WithLabelValues(string(o.a.Reason)).Inc()
	m.event(pod, srcs, corev1.EventTypeNormal, ReasonMoving, "moving out of %s, out of bound for %s: evicted so its %s recreates it; may go to %s",
		o, now.Sub(o.since).Round(time.Second), metav1.GetControllerOfNoCopy(pod).Kind, eligibleText(ev.Decision.Record()))
	logf.FromContext(ctx).Info("moved pod", "from", o.cluster, "reason", o.a.Reason)
	return reconcile.Result{}, nil
}

// evict asks the Eviction API to evict the pod (so PodDisruptionBudgets hold). A refusal
// (429) is returned at once: client-go would otherwise retry it by itself, honouring the
// API server's Retry-After of 10 s up to 10 times, and hold the mover meanwhile; the
// mover backs off per pod instead.
func (m *Mover) evict(ctx context.Context, pod *corev1.Pod) error {
	eviction := &policyv1.Eviction{
		TypeMeta:      metav1.TypeMeta{APIVersion: "policy/v1", Kind: "Eviction"},
		ObjectMeta:    metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}},
	}
	return m.Evictions.Post().Namespace(pod.Namespace).Resource("pods").Name(pod.Name).SubResource("eviction").
		Body(eviction).MaxRetries(0).Do(ctx).Error()
}

// replaceStranded deletes a Pending pod admitted while no cluster qualified, once one
// does: its required node affinity cannot change, so only a new pod can be placed.
func (m *Mover) replaceStranded(ctx context.Context, pod *corev1.Pod, ev policy.Evaluation, srcs xrkube.PodSources) error {
	rec, err := policy.ParseRecord(pod.Annotations[policy.AnnotationDecision])
	if err != nil || !rec.Stranded() || pod.Status.Phase != corev1.PodPending || !ev.Decision.Eligible() {
		return nil
	}
	if ev.Hint.Move == policy.MoveNever && ev.Hint.MoveSource.Kind != "" {
		return nil // kubexr.io/move: never stated by the user keeps even a stranded pod
	}
	if why := policy.NotRecreated(metav1.GetControllerOfNoCopy(pod)); why != "" {
		m.blocked(pod, srcs, blockedNoController, "a cluster qualifies now (%s), but %s: delete and recreate the pod to place it",
			eligibleText(ev.Decision.Record()), why)
		return nil
	}
	err = m.Client.Delete(ctx, pod, client.Preconditions{UID: &pod.UID})
	if client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete stranded pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	m.state.forget(pod.UID)
	m.Metrics.Moves.WithLabelValues(string(policy.MoveReasonStranded)).Inc()
	m.event(pod, srcs, corev1.EventTypeNormal, ReasonMoving,
		"replacing a pod admitted while no cluster qualified: deleted so its %s recreates it; may now go to %s",
		metav1.GetControllerOfNoCopy(pod).Kind, eligibleText(ev.Decision.Record()))
	return nil
}

// busy reports whether a move of the workload is still under way: its evicted pod's
// controller has no Ready pod created since the eviction, and the flight has not timed out.
func (m *Mover) busy(ctx context.Context, workload string) bool {
	f, ok := m.state.inFlight(workload)
	if !ok {
		return false
	}
	if m.Clock.Now().Sub(f.at) > m.FlightTimeout {
		m.state.endFlight(workload)
		return false
	}
	var pods corev1.PodList
	// Read only: the cache's objects themselves, no copy per reconcile.
	if err := m.Client.List(ctx, &pods, client.MatchingFields{controllerUIDIndex: string(f.controller)}, client.UnsafeDisableDeepCopy); err != nil {
		return true
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && !p.CreationTimestamp.Time.Before(f.at.Truncate(time.Second)) && podReady(p) {
			m.state.endFlight(workload)
			return false
		}
	}
	return true
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// workloadKey names the workload whose pods move one at a time: the outermost controller
// read (a Deployment for its ReplicaSets' pods), else the pod's controller.
func workloadKey(pod *corev1.Pod, srcs xrkube.PodSources) string {
	if w := srcs.Workload(); w != nil {
		return pod.Namespace + "/" + w.Kind + "/" + w.Name
	}
	if owner := metav1.GetControllerOfNoCopy(pod); owner != nil {
		return pod.Namespace + "/" + owner.Kind + "/" + owner.Name
	}
	return pod.Namespace + "/Pod/" + pod.Name
}

// nodeCluster is the remote cluster of a virtual node ("" for a local node) and whether
// the node is Ready. A node gone from the cache is reported NotReady.
func (m *Mover) nodeCluster(ctx context.Context, name string) (string, bool, error) {
	node := &corev1.Node{}
	err := m.Client.Get(ctx, client.ObjectKey{Name: name}, node)
	switch {
	case apierrors.IsNotFound(err):
		return "", true, nil // only virtual nodes are cached: a local node
	case err != nil:
		return "", false, fmt.Errorf("read node %s: %w", name, err)
	}
	return xrkube.VirtualNodeCluster(node), xrkube.NodeReady(node), nil
}

// outOfBoundSince returns when the pod's cluster left its bound, recording now on the
// pod the first time.
func (m *Mover) outOfBoundSince(ctx context.Context, pod *corev1.Pod) (time.Time, error) {
	if v, ok := pod.Annotations[policy.AnnotationOutOfBoundSince]; ok {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
	}
	now := m.Clock.Now().Truncate(time.Second)
	return now, m.annotate(ctx, pod, now.UTC().Format(time.RFC3339))
}

// endEpisode clears what the mover recorded of an out-of-bound episode.
func (m *Mover) endEpisode(ctx context.Context, pod *corev1.Pod) error {
	m.state.forget(pod.UID)
	if _, ok := pod.Annotations[policy.AnnotationOutOfBoundSince]; !ok {
		return nil
	}
	return m.annotate(ctx, pod, nil)
}

// annotate sets (or, with nil, removes) the out-of-bound annotation with a merge patch
// that touches nothing else.
func (m *Mover) annotate(ctx context.Context, pod *corev1.Pod, value any) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{policy.AnnotationOutOfBoundSince: value}}})
	if err != nil {
		return err
	}
	err = m.Client.Patch(ctx, pod, client.RawPatch(types.MergePatchType, patch))
	if err != nil {
		return client.IgnoreNotFound(fmt.Errorf("annotate pod %s/%s: %w", pod.Namespace, pod.Name, err))
	}
	return nil
}

// blocked reports a refused move once per pod and reason (Event on the pod and its
// workload, and the counter).
func (m *Mover) blocked(pod *corev1.Pod, srcs xrkube.PodSources, reason, format string, args ...any) {
	if !m.state.report(pod.UID, reason) {
		return
	}
	m.Metrics.MovesBlocked.WithLabelValues(reason).Inc()
	m.event(pod, srcs, corev1.EventTypeWarning, ReasonMoveBlocked, format, args...)
}

// event records one Event on the pod and, naming the pod, one on its workload.
func (m *Mover) event(pod *corev1.Pod, srcs xrkube.PodSources, eventtype, reason, format string, args ...any) {
	note := fmt.Sprintf(format, args...)
	m.Recorder.Eventf(pod, nil, eventtype, reason, moveAction, "%s", note)
	if w := srcs.Workload(); w != nil && !w.GroupVersionKind().Empty() {
		m.Recorder.Eventf(w, pod, eventtype, reason, moveAction, "pod %s: %s", pod.Name, note)
	}
}
