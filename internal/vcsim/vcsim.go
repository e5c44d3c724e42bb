// Package vcsim extends the vCenter simulator
// (github.com/vmware/govmomi/simulator) for the tests and the demo: it has
// no host service system and cannot set an event's user, so the model is
// changed in-process. Production code never imports it.
package vcsim

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// HostSimState is a simulated host's SSH / ESXi Shell / DCUI state and
// lockdown mode.
type HostSimState struct {
	SSH, Shell, DCUI bool
	Lockdown         types.HostLockdownMode
}

// SetSimHostState sets every host's services and lockdown mode: states by
// host name; hosts not named get the defaults (SSH and Shell stopped, DCUI
// running, lockdown disabled).
func SetSimHostState(model *simulator.Model, states map[string]HostSimState) {
	for _, r := range model.Map().All("HostSystem") {
		h := r.(*simulator.HostSystem)
		st, ok := states[h.Name]
		if !ok {
			st = HostSimState{DCUI: true, Lockdown: types.HostLockdownModeLockdownDisabled}
		}
		SetSimHost(model, h, st)
	}
}

// SetSimHost sets one host's state.
func SetSimHost(model *simulator.Model, h *simulator.HostSystem, st HostSimState) {
	policy := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	svc := &types.HostServiceInfo{Service: []types.HostService{
		{Key: "DCUI", Label: "Direct Console UI", Running: st.DCUI, Policy: policy(st.DCUI)},
		{Key: "TSM", Label: "ESXi Shell", Running: st.Shell, Policy: policy(st.Shell)},
		{Key: "TSM-SSH", Label: "SSH", Running: st.SSH, Policy: policy(st.SSH)},
	}}
	if st.Lockdown == "" {
		st.Lockdown = types.HostLockdownModeLockdownDisabled
	}
	set := func() {
		if h.Config == nil {
			h.Config = &types.HostConfigInfo{}
		}
		h.Config.Service = svc
		h.Config.LockdownMode = st.Lockdown
	}
	if model.Service != nil && model.Service.Context != nil {
		model.Service.Context.WithLock(h, set)
	} else {
		set()
	}
}

// PostAs posts ev in-process as user. PostEvent sets the event's user from
// the posting session, so it posts with a copy of the service context whose
// session names user. An EventEx must name a valid ObjectType/ObjectId.
func PostAs(model *simulator.Model, user string, ev types.BaseEvent) {
	sctx := *model.Service.Context
	var sess simulator.Session
	if sctx.Session != nil {
		sess = *sctx.Session
	}
	sess.UserName = user
	sctx.Session = &sess
	em := model.Map().EventManager()
	sctx.WithLock(em, func() { em.PostEvent(&sctx, &types.PostEvent{EventToPost: ev}) })
}
