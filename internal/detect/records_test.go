package detect

import (
	"testing"

	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/audit"
	"github.com/vsphere-audit-exporter/vsphere-audit-exporter/internal/logline"
)

// Audit records become events with the fields their parameters give, from
// any program, in both frames; the quick filter passes every one of them.
func TestAuditRecords(t *testing.T) {
	c := MustNew()
	p := logline.NewParser(logline.Options{Year: 2024})
	const h = `<110>2024-06-04T02:00:01.000Z esx01 `
	for _, tc := range []struct {
		name, line string
		want       []audit.Event // only the fields set here are compared
	}{
		{"power off", h + `Hostd[1]: [vm.power.off@6876 subject="root" object="app01" result="success" ip="172.16.5.5" opID="p1"]`,
			[]audit.Event{{Kind: audit.KindVMPower, Action: "off", VM: "app01", User: "root", ClientIP: "172.16.5.5", OpID: "p1", Outcome: "success"}}},
		{"kill, RFC 5424, any program", `<110>1 2024-06-04T02:00:03.000Z esx01 vmx 42 - [vm.kill@6876 subject="root" object="db01" result="success"]`,
			[]audit.Event{{Kind: audit.KindVMPower, Action: "kill", VM: "db01", User: "root", Outcome: "success"}}},
		{"a failed power-on", h + `Hostd[1]: [vm.power.on@6876 subject="bob" object="app03" result="failure" reason="Permission denied"]`,
			[]audit.Event{{Kind: audit.KindVMPower, Action: "on", VM: "app03", User: "bob", Outcome: "failure", Reason: "Permission denied"}}},
		{"the VM as its configuration file", h + `Hostd[1]: [vm.snapshot.removeAll@6876 subject="root" object="/vmfs/volumes/ds1/dc01/dc01.vmx" result="success" ip="1.2.3.4"]`,
			[]audit.Event{{Kind: audit.KindVMSnapshot, Action: "remove_all", VM: "dc01"}}},
		{"snapshot rename", h + `Hostd[1]: [vm.snapshot.rename@6876 subject="root" object="web01" result="success" ip="1.2.3.4" name="a" newName="b" uniqueID="3"]`,
			[]audit.Event{{Kind: audit.KindVMSnapshot, Action: "rename", VM: "web01", Value: "b"}}},
		{"cross-VM disk", h + `Hostd[1]: [vm.storage.add@6876 subject="root" object="web01" result="success" ip="1.2.3.4" path="[ds1] dc01/dc01.vmdk"]`,
			[]audit.Event{{Kind: audit.KindVMDiskChanged, Action: "add", VM: "web01", Path: "[ds1] dc01/dc01.vmdk", CrossVM: true}}},
		{"cross-VM judged against the VM's own folder", h + `Hostd[1]: [vm.storage.edit@6876 subject="root" object="[ds1] old-name/new-name.vmx" result="success" ip="1.2.3.4" path="[ds1] old-name/old-name_1.vmdk"]`,
			[]audit.Event{{Kind: audit.KindVMDiskChanged, Action: "edit", VM: "new-name", CrossVM: false}}},
		{"a removed disk is not an attachment", h + `Hostd[1]: [vm.storage.remove@6876 subject="root" object="web01" result="success" ip="1.2.3.4" path="[ds1] dc01/dc01.vmdk"]`,
			[]audit.Event{{Kind: audit.KindVMDiskChanged, Action: "remove", CrossVM: false}}},
		{"host client login", h + `Hostd[1]: [vim.connect@6876 subject="root" object="vim" result="success" ip="192.168.127.13" uniqueID="52" opID="c4"]`,
			[]audit.Event{{Kind: audit.KindLogin, Method: "hostd", User: "root", ClientIP: "192.168.127.13", OpID: "c4", Direct: true}}},
		{"failed host client login", h + `Hostd[1]: [vim.connect@6876 subject="root" object="vim" result="failure" reason="bad" ip="192.168.127.66"]`,
			[]audit.Event{{Kind: audit.KindLoginFailed, Method: "hostd", User: "root", Reason: "bad", Outcome: "failure"}}},
		{"vpxuser is not direct without a known vCenter", h + `Hostd[1]: [vim.connect@6876 subject="vpxuser" object="vim" result="success" ip="10.0.0.5"]`,
			[]audit.Event{{Kind: audit.KindLogin, User: "vpxuser", Direct: false}}},
		{"ssh session", h + `sshd[1]: [ssh.session.begin@6876 subject="root" object="ssh" result="success" ip="172.16.5.5" hostname="jump"]`,
			[]audit.Event{{Kind: audit.KindLogin, Method: "ssh", User: "root", ClientIP: "172.16.5.5", Direct: true}}},
		{"dcui logout", h + `dcui[1]: [dcui.logout@6876 subject="root" object="dcui" result="success"]`,
			[]audit.Event{{Kind: audit.KindLogout, Method: "dcui", User: "root"}}},
		{"ssh.cmd is a shell command with its technique", h + `sshd[1]: [ssh.cmd@6876 subject="root" object="ssh" result="success" command="vim-cmd vmsvc/getallvms"]`,
			[]audit.Event{{Kind: audit.KindShellCommand, Method: "ssh", Command: "vim-cmd vmsvc/getallvms", Technique: "T1082"}}},
		{"a command that is also a change", h + `shell[1]: [shell.cmd@6876 subject="root" object="shell" command="esxcli network firewall set --default-action true" result="success" status="0"]`,
			[]audit.Event{{Kind: audit.KindShellCommand, Technique: "T1562.001"}, {Kind: audit.KindConfigChanged, Setting: "firewall", Action: "lowered", Technique: ""}}},
		{"datastore download", h + `Hostd[1]: [service.ticket.get@6876 subject="root" object="t" result="success" ip="1.2.3.4" url="/folder/dc01/dc01-flat.vmdk" http="GET"]`,
			[]audit.Event{{Kind: audit.KindDatastoreAccess, Path: "/folder/dc01/dc01-flat.vmdk", User: "root", ClientIP: "1.2.3.4"}}},
		{"screen ticket", h + `Hostd[1]: [service.ticket.get@6876 subject="root" object="t" result="success" ip="1.2.3.4" url="/screen?id=12" http="GET"]`,
			[]audit.Event{{Kind: audit.KindConsoleOpened, TicketType: "screen"}}},
		{"a /cgi-bin ticket is nothing", h + `Hostd[1]: [service.ticket.get@6876 subject="root" object="t" result="success" ip="1.2.3.4" url="/cgi-bin/x" http="GET"]`, nil},
		{"access denied", h + `Hostd[1]: [vim.access.denied@6876 subject="bob" object="vm-12" result="failure" ip="1.2.3.4" apiName="vim.VirtualMachine.powerOff" path="/x"]`,
			[]audit.Event{{Kind: audit.KindAccessDenied, User: "bob", Object: "vim.VirtualMachine.powerOff"}}},
		{"ssh service started", h + `Hostd[1]: [service.start@6876 subject="root" object="TSM-SSH" result="success"]`,
			[]audit.Event{{Kind: audit.KindServiceEnabled, Service: "ssh"}}},
		{"another service stopped", h + `Hostd[1]: [service.stop@6876 subject="root" object="ntpd" result="success"]`,
			[]audit.Event{{Kind: audit.KindConfigChanged, Setting: "services", Action: "disabled", Object: "ntpd"}}},
		{"execInstalledOnly off", h + `Hostd[1]: [settings.kernel.set@6876 subject="root" object="execInstalledOnly" result="success" value="FALSE"]`,
			[]audit.Event{{Kind: audit.KindConfigChanged, Setting: "exec_installed_only", Action: "disabled", Value: "FALSE"}}},
		{"a password success is the login's", h + `Hostd[1]: [service.password.use@6876 subject="root" object="p" result="success"]`, nil},
		{"an ignored id", h + `entropyd[1]: [entropy.start@6876 subject="e" object="e" result="success"]`, nil},
		{"audit loss", h + `vmsyslogd[1]: [audit.storage.failure@6876 subject="v" object="a" result="failure" reason="I/O error"]`,
			[]audit.Event{{Kind: audit.KindLoggingFailed, Reason: "I/O error"}}},
		{"an unknown id of the same number is not a record", h + `Hostd[1]: [Originator@6876 sub=Foo] Accepted nothing`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := p.Parse([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) > 0 {
				pk, ok := logline.Peek([]byte(tc.line))
				if !ok || !c.Candidate(pk.Program, pk.SDID, pk.Body) {
					t.Errorf("the quick filter drops it (peek ok %v, %+v)", ok, pk)
				}
			}
			got := c.Classify(&rec, nil)
			if len(got) != len(tc.want) {
				t.Fatalf("%d events, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Host != "esx01" || g.Source != audit.SourceSyslog || !g.Time.Equal(rec.Time) || g.Time.Year() != 2024 {
					t.Errorf("event %d: host %q source %q time %v", i, g.Host, g.Source, g.Time)
				}
				check := func(field, got, want string) {
					if want != "" && got != want {
						t.Errorf("event %d: %s %q, want %q", i, field, got, want)
					}
				}
				check("kind", string(g.Kind), string(w.Kind))
				check("action", g.Action, w.Action)
				check("vm", g.VM, w.VM)
				check("user", g.User, w.User)
				check("client_ip", g.ClientIP, w.ClientIP)
				check("method", g.Method, w.Method)
				check("path", g.Path, w.Path)
				check("value", g.Value, w.Value)
				check("reason", g.Reason, w.Reason)
				check("object", g.Object, w.Object)
				check("setting", g.Setting, w.Setting)
				check("service", g.Service, w.Service)
				check("ticket_type", g.TicketType, w.TicketType)
				check("op_id", g.OpID, w.OpID)
				check("command", g.Command, w.Command)
				check("outcome", g.Outcome, w.Outcome)
				if g.Technique != w.Technique {
					t.Errorf("event %d: technique %q, want %q", i, g.Technique, w.Technique)
				}
				if g.CrossVM != w.CrossVM {
					t.Errorf("event %d: cross_vm %v, want %v", i, g.CrossVM, w.CrossVM)
				}
				if w.Kind == audit.KindLogin && g.Direct != w.Direct {
					t.Errorf("event %d: direct %v, want %v", i, g.Direct, w.Direct)
				}
			}
		})
	}
}

// Techniques: each attack pattern gives its id; an administrator's
// everyday command gives none.
func TestTechniqueOf(t *testing.T) {
	for cmd, want := range map[string]string{
		"vim-cmd vmsvc/snapshot.removeall 12":                                                           "T1490",
		"vim-cmd hostsvc/autostartmanager/enable_autostart false":                                       "T1490",
		"esxcli vm process kill -t force -w 2105443":                                                    "T1529",
		"kill -9 $(ps | grep vmx | awk '{print $2}')":                                                   "T1529",
		"for vm in $(vim-cmd vmsvc/getallvms | awk '{print $1}'); do vim-cmd vmsvc/power.off $vm; done": "T1529",
		"vim-cmd vmsvc/power.off 12":                                                                    "",
		"esxcli network firewall set --default-action true":                                             "T1562.001",
		"esxcli network firewall set --enabled false":                                                   "T1562.001",
		"esxcli system settings kernel set -s execinstalledonly -v FALSE":                               "T1562.001",
		"esxcli system syslog config set --logdir=/tmp":                                                 "T1562.001",
		"esxcli system auditrecords remote disable":                                                     "T1562.001",
		"rm -rf /var/log/hostd.log":                                                                     "T1070",
		"history -c":                                                                                    "T1070",
		"esxcli system coredump network set --enable false":                                             "T1070",
		"touch -r /bin/sh /tmp/x":                                                                       "T1070",
		"vim-cmd vmsvc/getallvms":                                                                       "T1082",
		"esxcli storage filesystem list":                                                                "T1082",
		"esxcli system settings advanced set -o /BufferCache/FlushInterval -i 30000":                    "T1486",
		"vmkfstools -c 10G -d eagerzeroedthick /vmfs/volumes/ds1/x.vmdk":                                "T1486",
		"esxcli system version get":                                                                     "",
		"esxcli network ip interface ipv4 get":                                                          "",
		"":                                                                                              "",
	} {
		if got := TechniqueOf(cmd); got != want {
			t.Errorf("TechniqueOf(%q) = %q, want %q", cmd, got, want)
		}
	}
}
