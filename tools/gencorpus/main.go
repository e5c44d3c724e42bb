// Command gencorpus writes a reproducible synthetic ESXi syslog corpus for
// benchmarks: one wire message per line in ESXi's default remote format
// (RFC 3164 framing with an RFC 3339 timestamp, structured data prepended to
// the message), e.g.
//
//	<166>2024-05-02T10:11:12.123Z esx07.lab.local Hostd[2099494]: [Originator@6876 sub=Vimsvc.ha-eventmgr opID=esxui-1b2c-3d4e sid=52f0e556] Event 99 : User root@192.168.127.10 logged in as Mozilla/5.0 ...
//
// About 70% of the lines are noise (hostd tasks/vSAN/stats, vpxa LROs,
// vmkernel, rhttpproxy, crond, vobd SCSI latency), about 25% are logins and
// login failures (hostd password login and rejection pairs sharing an opID,
// sshd accepted/PAM failures, vpxuser logins from vCenter) and about 5% are
// other audit lines (SSH enabled/disabled, shell commands, account lockouts).
// The same -n and -seed always produce byte-identical output; timestamps
// increase strictly from a fixed start.
//
// Usage:
//
//	go run ./tools/gencorpus -n 1000000 -seed 1 -o /tmp/esxi-1m.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// Fixed corpus start; every line advances the clock by 1..40 ms.
var startTime = time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)

const (
	numHosts  = 50
	vcenterIP = "10.10.0.5"
)

var (
	// Interactive users for hostd (Host Client / API) logins and failures.
	hostdUsers = []string{"root", "root", "root", "admin", "admin", "svc-backup", "svc-backup", "operator", "auditor", "jdoe"}
	// SSH users (ESXi SSH is nearly always root).
	sshUsers = []string{"root", "root", "root", "root", "admin"}
	// Users that show up in shell.log.
	shellUsers = []string{"root", "root", "root", "admin"}
	// Users whose accounts get locked.
	lockUsers = []string{"root", "root", "admin", "svc-backup"}

	subnets = []string{"192.168.127.", "10.20.30.", "172.16.40.", "10.99.1."}
	// Failures also come from an outside range.
	failSubnets = []string{"192.168.127.", "10.20.30.", "203.0.113.", "198.51.100."}

	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"PowerCLI/13.2.1.22851661",
		"pyvmomi Python/3.11.4 (Linux; 5.15.0-105-generic; x86_64)",
		"govc/0.37.1",
		"VMware-client/6.5.0",
	}

	shellCommands = []string{
		"esxcli system version get",
		"esxcli system account list",
		"vim-cmd vmsvc/getallvms",
		"esxcli vm process list",
		"esxcli network ip interface ipv4 get",
		"esxcli storage core device list",
		"esxcli software vib list",
		"vim-cmd hostsvc/hostsummary",
		"cat /etc/vmware/esx.conf",
		"esxcli network firewall ruleset list",
		"ls -la /vmfs/volumes",
		"esxcli system syslog config get",
	}

	cronCommands = []string{
		"/bin/hostd-probe.sh ++group=host/vim/vmvisor/hostd-probe/stats/sh",
		"/usr/lib/vmware/vmksummary/log-heartbeat.py",
		"/sbin/auto-backup.sh ++group=host/vim/vmvisor/backup.sh",
		"/bin/vmware-autopurge.sh",
	}

	vpxaMethods = []string{
		"vpxapi.VpxaService.fetchQuickStats",
		"vpxapi.VpxaService.getChanges",
		"vim.PerformanceManager.queryStats",
		"vpxapi.VpxaService.retrieveChanges",
	}

	hostdTasks = []string{
		"haTask--vim.vslm.host.CatalogSyncManager.queryCatalogChange",
		"haTask-ha-host-vim.HostSystem.retrieveInternalCapability",
		"haTask--vim.SearchIndex.findByInventoryPath",
		"haTask-ha-host-vim.host.DatastoreSystem.queryVmfsDatastoreExtendOptions",
	}
)

// host is the per-host state that keeps ids plausible line to line.
type host struct {
	name    string
	hostdID int   // base Hostd/Vpxa world id
	event   int   // next hostd event number
	uptime  int64 // vobd uptime counter, microseconds
	lro     int   // next vpxa LRO number
}

type gen struct {
	// users, when positive, replaces the login users by user0..user<users-1>
	// in turn (nextUser): a corpus of that many distinct users.
	users, nextUser int
	rng             *rand.Rand
	w               *bufio.Writer
	buf             []byte
	ms              int64 // current timestamp, Unix milliseconds
	hosts           []host
	left            int // lines still to write
}

func main() {
	n := flag.Int("n", 1000000, "number of lines to write")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "", "output file (default stdout)")
	users := flag.Int("users", 0, "distinct user names of hostd and SSH logins and failures (user0, user1, ... in turn); 0: the fixed realistic set (root, admin, svc-backup, ...)")
	flag.Parse()
	if *n < 0 {
		fmt.Fprintln(os.Stderr, "gencorpus: -n must be >= 0")
		os.Exit(2)
	}
	if *users < 0 {
		fmt.Fprintln(os.Stderr, "gencorpus: -users must be >= 0")
		os.Exit(2)
	}

	var dst io.Writer = os.Stdout
	var f *os.File
	if *out != "" && *out != "-" {
		var err error
		f, err = os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gencorpus:", err)
			os.Exit(1)
		}
		dst = f
	}

	w := bufio.NewWriterSize(dst, 1<<20)
	g := newGen(*seed, w)
	g.users = *users
	g.run(*n)
	err := w.Flush()
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
}

func newGen(seed uint64, w *bufio.Writer) *gen {
	g := &gen{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		w:   w,
		buf: make([]byte, 0, 1024),
		ms:  startTime.UnixMilli(),
	}
	for i := range numHosts {
		g.hosts = append(g.hosts, host{
			name:    fmt.Sprintf("esx%02d.lab.local", i+1),
			hostdID: 2098000 + g.rng.IntN(4000),
			event:   100 + g.rng.IntN(5000),
			uptime:  1e9 + g.rng.Int64N(1e12),
			lro:     1 + g.rng.IntN(100000),
		})
	}
	return g
}

// event is one kind of log activity; lines is how many lines it writes.
type event struct {
	weight int
	lines  int
	emit   func(g *gen, h *host)
}

// Weights are chosen so that weight*lines sums to 1000: 700 noise lines,
// 250 login/failure lines, 50 other audit lines.
var events = []event{
	// Noise (700).
	{120, 1, (*gen).hostdTask},
	{90, 1, (*gen).hostdVsan},
	{80, 1, (*gen).hostdStats},
	{20, 1, (*gen).hostdLogout},
	{130, 1, (*gen).vpxaLRO},
	{90, 1, (*gen).vmkernel},
	{70, 1, (*gen).rhttpproxy},
	{60, 1, (*gen).crond},
	{40, 1, (*gen).vobdSCSI},
	// Logins and failures (250).
	{50, 2, (*gen).hostdLogin},
	{25, 2, (*gen).hostdReject},
	{20, 2, (*gen).vpxuserLogin},
	{30, 1, (*gen).sshdAccepted},
	{30, 1, (*gen).sshdFailure},
	// Other audit (50).
	{10, 1, (*gen).sshToggle},
	{8, 1, (*gen).hostdSSHAccess},
	{25, 1, (*gen).shellCommand},
	{7, 1, (*gen).accountLocked},
}

func (g *gen) run(n int) {
	total := 0
	for _, e := range events {
		total += e.weight
	}
	g.left = n
	for g.left > 0 {
		r := g.rng.IntN(total)
		var e event
		for _, e = range events {
			if r < e.weight {
				break
			}
			r -= e.weight
		}
		if e.lines > g.left {
			continue // keep multi-line events whole at the end of the corpus
		}
		e.emit(g, &g.hosts[g.rng.IntN(len(g.hosts))])
	}
}

// start begins a line: advances the clock and writes "<pri>TS host app[pid]: ".
// pid < 0 omits the brackets (vmkernel).
func (g *gen) start(pri int, h *host, app string, pid int) {
	g.ms += 1 + int64(g.rng.IntN(40))
	b := g.buf[:0]
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(pri), 10)
	b = append(b, '>')
	b = time.UnixMilli(g.ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, ' ')
	b = append(b, h.name...)
	b = append(b, ' ')
	b = append(b, app...)
	if pid >= 0 {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, ']')
	}
	b = append(b, ": "...)
	g.buf = b
}

// end terminates and writes the current line.
func (g *gen) end() {
	g.buf = append(g.buf, '\n')
	g.w.Write(g.buf) // errors surface on Flush
	g.left--
}

func (g *gen) s(s string) { g.buf = append(g.buf, s...) }
func (g *gen) d(n int)    { g.buf = strconv.AppendInt(g.buf, int64(n), 10) }

// hex appends n random lower-case hex digits.
func (g *gen) hex(n int) {
	const digits = "0123456789abcdef"
	for n > 0 {
		v := g.rng.Uint64()
		for i := 0; i < 16 && n > 0; i++ {
			g.buf = append(g.buf, digits[v&15])
			v >>= 4
			n--
		}
	}
}

func (g *gen) uuid() {
	g.hex(8)
	g.s("-")
	g.hex(4)
	g.s("-")
	g.hex(4)
	g.s("-")
	g.hex(4)
	g.s("-")
	g.hex(12)
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// loginUser is a hostd or SSH login's user: from list, or with -users the
// next of the distinct names.
func (g *gen) loginUser(list []string) string {
	if g.users <= 0 {
		return g.pick(list)
	}
	u := "user" + strconv.Itoa(g.nextUser%g.users)
	g.nextUser++
	return u
}

func (g *gen) ip(nets []string) string {
	return g.pick(nets) + strconv.Itoa(2+g.rng.IntN(252))
}

func (g *gen) hostdTID(h *host) int { return h.hostdID + g.rng.IntN(600) }

// opID is kept as a string so a login's two lines can share it.
func (g *gen) opID() string {
	save := g.buf
	g.buf = make([]byte, 0, 24)
	switch g.rng.IntN(3) {
	case 0:
		g.s("esxui-")
		g.hex(4)
		g.s("-")
		g.hex(4)
	case 1:
		g.hex(8)
	default:
		g.s("esxcli-")
		g.hex(2)
		g.s("-")
		g.hex(4)
	}
	id := string(g.buf)
	g.buf = save
	return id
}

func (g *gen) nextEvent(h *host) int {
	h.event++
	return h.event
}

// ---- noise ----

func (g *gen) hostdTask(h *host) {
	g.start(166, h, "Hostd", g.hostdTID(h))
	g.s("[Originator@6876 sub=Vimsvc.TaskManager opID=sps-Main-")
	g.d(100000 + g.rng.IntN(900000))
	g.s("-")
	g.d(g.rng.IntN(100))
	g.s("-")
	g.hex(2)
	g.s("-")
	g.hex(2)
	g.s("-")
	g.hex(4)
	g.s(` user=vpxuser:VSPHERE.LOCAL\vpxd-extension-b37a7345-e529-49c4-83a8-da77a48b1ce4] `)
	if g.rng.IntN(2) == 0 {
		g.s("Task Created : ")
		g.s(g.pick(hostdTasks))
		g.s("-")
		g.d(100000000 + g.rng.IntN(900000000))
	} else {
		g.s("Task Completed : ")
		g.s(g.pick(hostdTasks))
		g.s("-")
		g.d(100000000 + g.rng.IntN(900000000))
		g.s(" Status success")
	}
	g.end()
}

func (g *gen) hostdVsan(h *host) {
	g.start(166, h, "Hostd", g.hostdTID(h))
	g.s("[Originator@6876 sub=VsanSimsStubImpl opID=")
	g.hex(8)
	switch g.rng.IntN(3) {
	case 0:
		g.s("] Calling vim.host.VsanSystemEx.GetVsanRuntimeInfo")
	case 1:
		g.s("] Calling vim.host.VsanSystemEx.QueryHostStatus")
	default:
		g.s("] Calling vim.host.VsanHealthSystem.QueryPhysicalDiskHealthSummary")
	}
	g.end()
}

func (g *gen) hostdStats(h *host) {
	if g.rng.IntN(2) == 0 {
		g.start(163, h, "Hostd", g.hostdTID(h))
		g.s("[Originator@6876 sub=VMkernelStatsProvider(000000")
		g.hex(10)
		g.s(")] GetKernelStatValues: Detected error while retrieving stats: VSINode(2810): Not found (status=195887107)")
	} else {
		g.start(164, h, "Hostd", g.hostdTID(h))
		g.s("[Originator@6876 sub=deviceStatsProvider(000000")
		g.hex(10)
		g.s(")] FillVirtualDeviceStats: Unable to locate sample for stat ID ")
		g.d(1 + g.rng.IntN(40))
	}
	g.end()
}

// hostdLogout is a negative case for login detection ("logged out").
func (g *gen) hostdLogout(h *host) {
	user, ip := g.loginUser(hostdUsers), g.ip(subnets)
	g.start(166, h, "Hostd", g.hostdTID(h))
	g.s("[Originator@6876 sub=Vimsvc.ha-eventmgr opID=")
	g.s(g.opID())
	g.s(" user=")
	g.s(user)
	g.s("] Event ")
	g.d(g.nextEvent(h))
	g.s(" : User ")
	g.s(user)
	g.s("@")
	g.s(ip)
	g.s(" logged out (login time: Thursday, 02 May, 2024 08:14:36 AM, number of API invocations: ")
	g.d(g.rng.IntN(200))
	g.s(", user agent: ")
	g.s(g.pick(userAgents))
	g.s(")")
	g.end()
}

func (g *gen) vpxaLRO(h *host) {
	g.start(166, h, "Vpxa", h.hostdID+1000+g.rng.IntN(200))
	g.s("[Originator@6876 sub=vpxLro opID=PollQuickStatsLoop-")
	g.hex(8)
	g.s("-")
	g.hex(2)
	h.lro++
	if g.rng.IntN(2) == 0 {
		g.s("] [VpxLRO] -- BEGIN lro-")
		g.d(h.lro)
		g.s(" -- vpxa -- ")
		g.s(g.pick(vpxaMethods))
		g.s(" -- ")
		g.uuid()
	} else {
		g.s("] [VpxLRO] -- FINISH lro-")
		g.d(h.lro)
	}
	g.end()
}

func (g *gen) vmkernel(h *host) {
	g.start(182, h, "vmkernel", -1)
	g.s("cpu")
	g.d(g.rng.IntN(32))
	g.s(":")
	g.d(131000 + g.rng.IntN(2000))
	g.s(")NRandomHwrng: 500: Out of entropy, refreshing.")
	g.end()
}

func (g *gen) rhttpproxy(h *host) {
	g.start(167, h, "Rhttpproxy", h.hostdID-400+g.rng.IntN(50))
	g.s("[Originator@6876 sub=Proxy Req ")
	g.d(10000 + g.rng.IntN(90000))
	if g.rng.IntN(2) == 0 {
		g.s("] Resolved endpoint : [N7Vmacore4Http16LocalServiceSpecE:0x000000")
		g.hex(10)
		g.s("] _serverNamespace = /vpxa action = Allow _port = 8089")
	} else {
		g.s("] The client closed the stream, not unexpectedly.")
	}
	g.end()
}

func (g *gen) crond(h *host) {
	g.start(78, h, "crond", h.hostdID-1000+g.rng.IntN(10))
	g.s("USER root pid ")
	g.d(2100000 + g.rng.IntN(100000))
	g.s(" cmd ")
	g.s(g.pick(cronCommands))
	g.end()
}

func (g *gen) vobdSCSI(h *host) {
	g.start(14, h, "vobd", h.hostdID-1500)
	h.uptime += g.rng.Int64N(1e9)
	g.s(" [scsiCorrelator] ")
	g.buf = strconv.AppendInt(g.buf, h.uptime, 10)
	g.s("us: [esx.problem.scsi.device.io.latency.high] Device naa.60a98000")
	g.hex(24)
	g.s(" performance has deteriorated. I/O latency increased from average value of ")
	g.d(1000 + g.rng.IntN(2000))
	g.s(" microseconds to ")
	g.d(20000 + g.rng.IntN(30000))
	g.s(" microseconds.")
	g.end()
}

// ---- logins and failures ----

// loginPair writes "Accepted password" and the matching "logged in as" event
// with the same opID and session id.
func (g *gen) loginPair(h *host, user, ip, ua string) {
	op := g.opID()
	tid := g.hostdTID(h)
	save := g.buf
	g.buf = make([]byte, 0, 36)
	g.uuid()
	session := string(g.buf)
	g.buf = save
	sid := session[:8]

	g.start(166, h, "Hostd", tid)
	g.s("[Originator@6876 sub=Vimsvc.HaSessionManager opID=")
	g.s(op)
	g.s(" sid=")
	g.s(sid)
	g.s("] Accepted password for user ")
	g.s(user)
	g.s(" from ")
	g.s(ip)
	g.s(" - session=")
	g.s(session)
	g.end()

	g.start(166, h, "Hostd", tid)
	g.s("[Originator@6876 sub=Vimsvc.ha-eventmgr opID=")
	g.s(op)
	g.s(" sid=")
	g.s(sid)
	g.s("] Event ")
	g.d(g.nextEvent(h))
	g.s(" : User ")
	g.s(user)
	g.s("@")
	g.s(ip)
	g.s(" logged in as ")
	g.s(ua)
	g.end()
}

func (g *gen) hostdLogin(h *host) {
	g.loginPair(h, g.loginUser(hostdUsers), g.ip(subnets), g.pick(userAgents))
}

func (g *gen) vpxuserLogin(h *host) {
	g.loginPair(h, "vpxuser", vcenterIP, "VMware-client/6.5.0")
}

// hostdReject writes "Rejected password" and the "Cannot login" event with
// the same opID.
func (g *gen) hostdReject(h *host) {
	user, ip, op, tid := g.loginUser(hostdUsers), g.ip(failSubnets), g.opID(), g.hostdTID(h)

	g.start(164, h, "Hostd", tid)
	g.s("[Originator@6876 sub=Default opID=")
	g.s(op)
	g.s("] Rejected password for user ")
	g.s(user)
	g.s(" from ")
	g.s(ip)
	g.end()

	g.start(166, h, "Hostd", tid)
	g.s("[Originator@6876 sub=Vimsvc.ha-eventmgr opID=")
	g.s(op)
	g.s("] Event ")
	g.d(g.nextEvent(h))
	g.s(" : Cannot login ")
	g.s(user)
	g.s("@")
	g.s(ip)
	g.end()
}

func (g *gen) sshdPID() int { return 1050000 + g.rng.IntN(1000000) }

func (g *gen) sshdAccepted(h *host) {
	g.start(38, h, "sshd", g.sshdPID())
	g.s("Accepted keyboard-interactive/pam for ")
	g.s(g.loginUser(sshUsers))
	g.s(" from ")
	g.s(g.ip(subnets))
	g.s(" port ")
	g.d(1024 + g.rng.IntN(64000))
	g.s(" ssh2")
	g.end()
}

func (g *gen) sshdFailure(h *host) {
	g.start(35, h, "sshd", g.sshdPID())
	g.s("error: PAM: Authentication failure for ")
	g.s(g.loginUser(sshUsers))
	g.s(" from ")
	g.s(g.ip(failSubnets))
	g.end()
}

// ---- other audit ----

func (g *gen) sshToggle(h *host) {
	g.start(13, h, "SSH", g.sshdPID())
	if g.rng.IntN(2) == 0 {
		g.s("SSH login enabled")
	} else {
		g.s("SSH login disabled")
	}
	g.end()
}

func (g *gen) hostdSSHAccess(h *host) {
	g.start(166, h, "Hostd", g.hostdTID(h))
	g.s("[Originator@6876 sub=Vimsvc.ha-eventmgr] Event ")
	g.d(g.nextEvent(h))
	if g.rng.IntN(2) == 0 {
		g.s(" : SSH access has been enabled.")
	} else {
		g.s(" : SSH access has been disabled.")
	}
	g.end()
}

func (g *gen) shellCommand(h *host) {
	g.start(14, h, "shell", g.sshdPID())
	g.s("[")
	g.s(g.pick(shellUsers))
	g.s("]: ")
	g.s(g.pick(shellCommands))
	g.end()
}

func (g *gen) accountLocked(h *host) {
	g.start(14, h, "vobd", h.hostdID-1500)
	h.uptime += g.rng.Int64N(1e9)
	g.s(" [UserLevelCorrelator] ")
	g.buf = strconv.AppendInt(g.buf, h.uptime, 10)
	g.s("us: [esx.audit.account.locked] Remote access for ESXi local user account '")
	g.s(g.pick(lockUsers))
	g.s("' has been locked for 900 seconds after ")
	g.d(5 + g.rng.IntN(20))
	g.s(" failed login attempts.")
	g.end()
}
