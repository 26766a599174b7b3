package synth

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// Population dynamics: customers leave at random, with a hazard that
// depends only on tenure (high in the first months, low later), and as many
// sign up. The tenure distribution this keeps stationary has mean ~31 and
// sd ~24 months like the lab's, 29% in the first year and 8% at the cap.
const (
	// hazardFloor + hazardEarly·exp(-t/hazardTau) is the monthly chance
	// that a customer with tenure t < 72 leaves.
	hazardFloor = 0.009
	hazardEarly = 0.25
	hazardTau   = 4.0
	// hazardCap is the monthly chance that a customer at the cap leaves.
	hazardCap = 0.10
	// maxMonthsActive is the lab's tenure cap.
	maxMonthsActive = 72
)

// hazard is the monthly chance that a customer with true tenure t leaves.
func hazard(t int) float64 {
	if t >= maxMonthsActive {
		return hazardCap
	}
	return hazardFloor + hazardEarly*math.Exp(-float64(t)/hazardTau)
}

// tenureCDF is the stationary distribution of months_active (0..72) under
// hazard, as a cumulative table: month 0 starts there, so no burn-in is
// needed.
var tenureCDF = func() [maxMonthsActive + 1]float64 {
	var n [maxMonthsActive + 1]float64
	n[0] = 1
	for t := 1; t < maxMonthsActive; t++ {
		n[t] = n[t-1] * (1 - hazard(t-1))
	}
	// The cap keeps everyone who reached it until they leave.
	n[maxMonthsActive] = n[maxMonthsActive-1] * (1 - hazard(maxMonthsActive-1)) / hazardCap
	var sum float64
	for _, v := range n {
		sum += v
	}
	var cdf [maxMonthsActive + 1]float64
	acc := 0.0
	for t, v := range n {
		acc += v / sum
		cdf[t] = acc
	}
	cdf[maxMonthsActive] = 1
	return cdf
}()

// Lab categories, as small codes in a user (names: netNames,
// contractNames).
const (
	netNo uint8 = iota
	netDSL
	netFiber
)

const (
	contractMonthly uint8 = iota
	contractOneYear
	contractTwoYear
)

var (
	netNames      = [...]string{netNo: "No", netDSL: "DSL", netFiber: "Fiber optic"}
	contractNames = [...]string{contractMonthly: "Month-to-month", contractOneYear: "One year", contractTwoYear: "Two year"}
)

// user is one customer's persistent state: static traits and the levels
// around which monthly aggregates are drawn. It is kept small (104 bytes,
// held by value) because a population of ten million lives in memory for
// the whole run: categories are codes and the user_id is a number (see
// idString).
type user struct {
	baseFee   float64 // before regime price changes
	totalPaid float64

	watchLevel   float64 // hours per 30 days
	sessionLevel float64 // minutes per session
	skipRate     float64 // per 7 days
	rebufferRate float64 // per 7 days
	failRate     float64 // per 90 days
	ticketRate   float64 // per 90 days
	resLevel     float64 // hours
	latent       float64 // unobserved propensity, N(0, 1)

	id          uint64 // see idString
	signupMonth int32  // month index of the signup (0 = January 2024)
	signupDay   uint8  // 1..28
	devices     uint8
	net         uint8
	contract    uint8
	female      bool
	senior      bool
	family      bool
	dependents  bool
	tv, movies  bool
	paperless   bool
}

// monthsActive is the lab's months_active at the end of month m.
func (u *user) monthsActive(m int) int {
	return min(m-int(u.signupMonth), maxMonthsActive)
}

// regime is what drift changes: feature multipliers (FeatureShift) and the
// churn model (LabelShift).
type regime struct {
	feeMult, watchMult, sessionMult, rebufferMult, failMult, ticketMult float64
	coef                                                                coefs
}

// coefs is the churn model: logit = sum of weight × centred driver.
type coefs struct {
	intercept float64

	// account drivers
	monthly, twoYear float64 // contract (not a model feature)
	tenure           float64 // × (ln(1+months_active) - 2.8)
	fiber, noNet     float64
	fee              float64 // × (monthly_fee - 65)
	paperless        float64
	senior, family   float64 // not model features

	// experience drivers
	failed     float64 // × failed_payments_90d
	tickets    float64 // × support_tickets_90d
	resolution float64 // × (resolution hours - 10), when tickets > 0
	watch      float64 // × (watch_hours_30d - 30)
	session    float64 // × (avg_session_mins_7d - 29)
	rebuffer   float64 // × (rebuffer_events_7d - 2.3)
	skips      float64 // × (skips_7d - 5)

	latent float64 // × the user's unobserved propensity
}

// baseCoefs is the churn model before any LabelShift. The intercept is
// tuned so that the stationary churn rate is near the lab's 26.5%.
var baseCoefs = coefs{
	intercept: -2.05,
	monthly:   0.6, twoYear: -0.7,
	tenure: -0.9,
	fiber:  0.5, noNet: -0.5,
	fee:       0.018,
	paperless: 0.3,
	senior:    0.3, family: -0.15,
	failed:     0.85,
	tickets:    0.6,
	resolution: 0.08,
	watch:      -0.13,
	session:    -0.04,
	rebuffer:   0.26,
	skips:      0.1,
	latent:     0.3,
}

// logit returns the churn log-odds of customer c (user u) under k.
func (k *coefs) logit(c *snapshot.Customer, u *user) float64 {
	z := k.intercept
	switch c.ContractType {
	case contractNames[contractMonthly]:
		z += k.monthly
	case contractNames[contractTwoYear]:
		z += k.twoYear
	}
	z += k.tenure * (math.Log1p(float64(c.MonthsActive)) - 2.8)
	switch c.NetService {
	case netNames[netFiber]:
		z += k.fiber
	case netNames[netNo]:
		z += k.noNet
	}
	z += k.fee * (c.MonthlyFee - 65)
	if c.PaperlessBilling {
		z += k.paperless
	}
	if c.IsSenior {
		z += k.senior
	}
	if c.HasFamily {
		z += k.family
	}
	z += k.failed * float64(c.FailedPayments90d)
	z += k.tickets * float64(c.SupportTickets90d)
	if c.SupportTickets90d > 0 {
		z += k.resolution * (c.TicketAvgResolutionHrs90d - 10)
	}
	z += k.watch * (c.WatchHours30d - 30)
	z += k.session * (c.AvgSessionMins7d - 29)
	z += k.rebuffer * (float64(c.RebufferEvents7d) - 2.3)
	z += k.skips * (float64(c.Skips7d) - 5)
	z += k.latent * u.latent
	return z
}

// sim is the running simulation.
type sim struct {
	cfg   Config
	pcg   *rand.PCG // rng's state, copied to replay a month's draws
	rng   *rand.Rand
	users []user
	used  idSet // every user_id ever issued
	reg   regime
	// preShift is the churn model before a LabelShift that the next step
	// must calibrate: the new intercept raises the expected churn rate by
	// raise over what preShift gives on the same month.
	preShift *coefs
	raise    float64
}

func newSim(cfg Config) *sim {
	pcg := newPCG(cfg.Seed)
	s := &sim{
		cfg:  cfg,
		pcg:  pcg,
		rng:  rand.New(pcg),
		used: newIDSet(cfg.Users + cfg.Users/8),
		reg: regime{
			feeMult: 1, watchMult: 1, sessionMult: 1, rebufferMult: 1, failMult: 1, ticketMult: 1,
			coef: baseCoefs,
		},
	}
	s.users = make([]user, cfg.Users)
	for i := range s.users {
		s.users[i] = s.newUser(0, s.initialTenure())
	}
	return s
}

// initialTenure draws a true tenure from the stationary distribution
// (beyond the cap, the geometric tail the cap hazard gives).
func (s *sim) initialTenure() int {
	u := s.rng.Float64()
	for t, c := range tenureCDF[:maxMonthsActive] {
		if u < c {
			return t
		}
	}
	return maxMonthsActive + int(math.Log(1-s.rng.Float64())/math.Log(1-hazardCap))
}

// newUser draws a customer whose tenure at the end of month m is tenure.
func (s *sim) newUser(m, tenure int) user {
	r := s.rng
	u := user{
		id:          s.newID(),
		signupMonth: int32(m - tenure),
		signupDay:   uint8(1 + r.IntN(28)),
		female:      r.Float64() < 0.495,
		senior:      r.Float64() < 0.162,
		family:      r.Float64() < 0.483,
	}
	u.dependents = r.Float64() < pick(u.family, 0.52, 0.11)

	// Seniors mostly take fiber, as in the lab.
	p := r.Float64()
	fiber, dsl := pick(u.senior, 0.73, 0.385), pick(u.senior, 0.20, 0.365)
	switch {
	case p < fiber:
		u.net = netFiber
	case p < fiber+dsl:
		u.net = netDSL
	default:
		u.net = netNo
	}

	// Streaming plans (joint, per service) and fee cells from the lab.
	var fee, sd, lo, hi float64
	switch u.net {
	case netNo:
		fee, sd, lo, hi = 21.08, 2.16, 18.25, 26.9
	case netDSL:
		u.tv, u.movies = s.plans(0.46, 0.145, 0.135)
		fee, sd, lo, hi = 47.8, 12.5, 23.45, 94.8
	case netFiber:
		u.tv, u.movies = s.plans(0.29, 0.14, 0.14)
		fee, sd, lo, hi = 77.0, 6.4, 67.75, 118.75
	}
	if u.tv {
		fee += 13
	}
	if u.movies {
		fee += 13
	}
	u.baseFee = roundTo(clamp(fee+sd*r.NormFloat64(), lo, hi), 20)

	mix := &contractMix[min(tenure, maxMonthsActive)]
	switch c := r.Float64(); {
	case c < mix[0]:
		u.contract = contractMonthly
	case c < mix[0]+mix[1]:
		u.contract = contractOneYear
	default:
		u.contract = contractTwoYear
	}
	u.paperless = r.Float64() < map3(u.net, 0.33, 0.56, 0.77)
	if tenure > 1 {
		// Past prices differed a little from today's.
		u.totalPaid = float64(tenure-1) * u.baseFee * (1 + 0.05*r.NormFloat64())
	}

	u.watchLevel = max(2, 29.6+0.153*(u.baseFee-64.76)+4.9*r.NormFloat64())
	u.sessionLevel = clamp(29*math.Exp(0.28*r.NormFloat64())*(1+0.01*(u.watchLevel-29.6)), 3, 150)
	d := r.Float64()
	switch {
	case d < pick(u.family, 0.25, 0.40):
		u.devices = 1
	case d < pick(u.family, 0.60, 0.73):
		u.devices = 2
	default:
		u.devices = 3
	}
	u.skipRate = 5 * lognormal1(r, 0.15)
	u.rebufferRate = map3(u.net, 2.4, 2.9, 1.9) * lognormal1(r, 0.3)
	u.failRate = 0.16 * lognormal1(r, 0.6)
	u.ticketRate = pick(u.net == netFiber, 0.34, 0.27) * lognormal1(r, 0.5)
	u.resLevel = 10 + 3.6*r.NormFloat64()
	u.latent = r.NormFloat64()
	return u
}

// plans draws the (tv, movies) streaming plans from the shares of
// neither, movies only and tv only; both takes the rest.
func (s *sim) plans(neither, moviesOnly, tvOnly float64) (tv, movies bool) {
	p := s.rng.Float64()
	switch {
	case p < neither:
		return false, false
	case p < neither+moviesOnly:
		return false, true
	case p < neither+moviesOnly+tvOnly:
		return true, false
	}
	return true, true
}

// newID draws a fresh user_id like the lab's (1234-ABCDE), never reused,
// as its idCode.
func (s *sim) newID() uint64 {
	for {
		id := uint64(s.rng.IntN(10000)) * idLetters
		var letters uint64
		for range 5 {
			letters = letters*26 + uint64(s.rng.IntN(26))
		}
		if s.used.add(id + letters) {
			return id + letters
		}
	}
}

// idLetters is how many letter suffixes there are (AAAAA…ZZZZZ): 26^5.
const idLetters = 26 * 26 * 26 * 26 * 26

// idString spells an idCode: the lab's user_ids numbered as digits × 26^5
// plus the letters in base 26 (A = 0).
func idString(id uint64) string {
	var b [10]byte
	n, letters := id/idLetters, id%idLetters
	for i := 3; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	b[4] = '-'
	for i := 9; i >= 5; i-- {
		b[i] = byte('A' + letters%26)
		letters /= 26
	}
	return string(b[:])
}

// idSet is a set of idCodes: open addressing over a power-of-two table of
// code+1 (0 is an empty slot), at most 3/4 full. Ten million ids take
// 128-256 MB, where a map of their strings took about a gigabyte.
type idSet struct {
	slots []uint64
	n     int
}

func newIDSet(hint int) idSet {
	size := 1024
	for size*3/4 < hint {
		size *= 2
	}
	return idSet{slots: make([]uint64, size)}
}

// add inserts id and reports whether it was new.
func (s *idSet) add(id uint64) bool {
	if (s.n+1)*4 > len(s.slots)*3 {
		old := s.slots
		s.slots, s.n = make([]uint64, 2*len(old)), 0
		for _, v := range old {
			if v != 0 {
				s.add(v - 1)
			}
		}
	}
	mask := uint64(len(s.slots) - 1)
	for i := (id + 1) * 0x9e3779b97f4a7c15 >> 20 & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = id + 1
			s.n++
			return true
		case id + 1:
			return false
		}
	}
}

// applyDrift starts the regime of drift d with the current month.
func (s *sim) applyDrift(d Drift) {
	st := s.cfg.Strength
	switch d {
	case FeatureShift:
		s.reg.feeMult *= 1 + 0.08*st
		s.reg.watchMult *= 1 - 0.2*st
		s.reg.sessionMult *= 1 - 0.15*st
		s.reg.rebufferMult *= 1 + 0.6*st
		s.reg.failMult *= 1 + 1.5*st
		s.reg.ticketMult *= 1 + 0.6*st
	case LabelShift:
		if s.preShift == nil {
			pre := s.reg.coef
			s.preShift = &pre
		}
		k := &s.reg.coef
		down := math.Pow(3, -st) // account drivers lose weight
		for _, w := range []*float64{&k.monthly, &k.twoYear, &k.tenure, &k.fiber, &k.noNet, &k.fee, &k.paperless, &k.senior, &k.family} {
			*w *= down
		}
		up := 1 + st // experience drivers gain it
		for _, w := range []*float64{&k.failed, &k.tickets, &k.resolution, &k.watch, &k.session, &k.rebuffer, &k.skips} {
			*w *= up
		}
		s.raise += 0.18 * st
	}
}

// monthSink receives a month as step draws it: every customer without
// its label first (row), in order, then every customer again with its
// label and true churn probability (label). Neither may keep c.
type monthSink interface {
	row(i int, c *snapshot.Customer) error
	label(i int, c *snapshot.Customer, churn bool, p float64) error
}

// step simulates month m: draws every customer's aggregates and label,
// then lets the population turn over.
//
// The labels are drawn after every customer's aggregates (and a label
// shift calibrates the churn model on the whole month in between), so the
// month is drawn twice rather than held: a copy of the random source taken
// at the month's start replays the same aggregates for the labels. The
// draws from the source itself are the ones a single pass over a held
// month made, so the files are the same bytes.
func (s *sim) step(m int, sink monthSink) error {
	start := *s.pcg
	var (
		c      snapshot.Customer
		z      []float64
		before float64
	)
	calibrate := s.preShift != nil
	if calibrate {
		z = make([]float64, len(s.users))
	}
	for i := range s.users {
		u := &s.users[i]
		s.draw(&c, u, m, s.rng, true)
		if calibrate {
			before += sigmoid(s.preShift.logit(&c, u))
			z[i] = s.reg.coef.logit(&c, u) - s.reg.coef.intercept
		}
		if err := sink.row(i, &c); err != nil {
			return err
		}
	}
	if calibrate {
		s.fitIntercept(z, before/float64(len(s.users)))
		s.preShift, s.raise = nil, 0
	}
	replay := rand.New(&start)
	for i := range s.users {
		u := &s.users[i]
		s.draw(&c, u, m, replay, false)
		p := sigmoid(s.reg.coef.logit(&c, u))
		if err := sink.label(i, &c, s.rng.Float64() < p, p); err != nil {
			return err
		}
	}
	s.turnover(m)
	return nil
}

// draw fills c with user u's row for month m under the current regime,
// drawing from r. accrue adds the month's fee to what u paid: false when
// replaying a month already drawn (total_paid is then off by that fee; the
// churn model does not use it).
func (s *sim) draw(c *snapshot.Customer, u *user, m int, r *rand.Rand, accrue bool) {
	g := &s.reg
	tenure := m - int(u.signupMonth)
	fee := roundTo(u.baseFee*g.feeMult, 20)
	if tenure >= 1 && accrue {
		u.totalPaid += fee
	}
	*c = snapshot.Customer{
		UserID:           idString(u.id),
		SignupDate:       time.Date(2024, time.January+time.Month(u.signupMonth), int(u.signupDay), 0, 0, 0, 0, time.UTC),
		Gender:           pickS(u.female, "Female", "Male"),
		IsSenior:         u.senior,
		HasFamily:        u.family,
		HasDependents:    u.dependents,
		MonthsActive:     u.monthsActive(m),
		ContractType:     contractNames[u.contract],
		PaperlessBilling: u.paperless,
		MonthlyFee:       fee,
		TotalPaid:        roundTo(u.totalPaid, 100),
		NetService:       netNames[u.net],
	}
	if u.net != netNo {
		c.PlanStreamTV, c.PlanStreamMovies = snapshot.Of(u.tv), snapshot.Of(u.movies)
	}
	c.WatchHours30d = max(0.5, (u.watchLevel+0.9*r.NormFloat64())*g.watchMult)
	c.AvgSessionMins7d = clamp(u.sessionLevel*math.Exp(0.06*r.NormFloat64())*g.sessionMult, 1, 240)
	c.UniqueDevices30d = int(u.devices)
	if r.Float64() < 0.06 {
		c.UniqueDevices30d = 1 + r.IntN(3)
	}
	c.Skips7d = min(poisson(r, u.skipRate), 30)
	c.RebufferEvents7d = min(poisson(r, u.rebufferRate*g.rebufferMult), 30)
	c.FailedPayments90d = min(poisson(r, u.failRate*g.failMult), 3)
	c.SupportTickets90d = min(poisson(r, u.ticketRate*g.ticketMult), 4)
	c.TicketAvgResolutionHrs90d = clamp(roundTo(u.resLevel+1.4*r.NormFloat64(), 10), 1, 24.9)
}

// fitIntercept sets the intercept of the just re-weighted churn model so
// that its expected churn rate over the month is the pre-shift model's
// (before, the mean of its probabilities) plus s.raise, capped at 0.9. z
// holds each customer's logit under the new model less its intercept.
func (s *sim) fitIntercept(z []float64, before float64) {
	rate := func(b float64) float64 {
		var sum float64
		for _, v := range z {
			sum += sigmoid(v + b)
		}
		return sum / float64(len(z))
	}
	target := min(before+s.raise, 0.9)
	lo, hi := -20.0, 20.0
	for range 60 {
		mid := (lo + hi) / 2
		if rate(mid) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	s.reg.coef.intercept = (lo + hi) / 2
}

// Contract dynamics, per tenure year (0-11 months, ..., 72): the monthly
// chance that a month-to-month customer commits, the share of those
// commitments that are one-year (the rest two-year), and the monthly chance
// that a one-year customer moves to two years. Derived from the lab's contract
// mix per tenure year, they keep that mix roughly (departures do not depend on the contract).
var (
	commitHazard  = [7]float64{0.019, 0.017, 0.026, 0.035, 0.073, 0.216, 0.216}
	commitOneYear = [7]float64{0.74, 0.72, 0.36, 0.33, 0, 0, 0}
	renewHazard   = [7]float64{0, 0, 0, 0, 0.027, 0.15, 0.15}
)

// signupContract is the contract mix of new customers (month-to-month,
// one-year, two-year), the lab's for tenure 0-11.
var signupContract = [3]float64{0.922, 0.049, 0.029}

// contractMix[t] is the stationary contract mix at months_active t (72: at
// the cap) that signupContract and the contract dynamics give; customers
// present at month 0 draw from it.
var contractMix = func() [maxMonthsActive + 1][3]float64 {
	var mix [maxMonthsActive + 1][3]float64
	next := func(p [3]float64, t int) [3]float64 {
		y := min(t/12, 6)
		c, f, r := commitHazard[y], commitOneYear[y], renewHazard[y]
		return [3]float64{
			p[0] * (1 - c),
			p[0]*c*f + p[1]*(1-r),
			p[0]*c*(1-f) + p[1]*r + p[2],
		}
	}
	mix[0] = signupContract
	for t := 1; t < maxMonthsActive; t++ {
		mix[t] = next(mix[t-1], t)
	}
	// At the cap a share hazardCap of the customers arrives each month from
	// tenure 71, the rest stayed: iterate to the fixed point.
	in := next(mix[maxMonthsActive-1], maxMonthsActive)
	q := in
	for range 1000 {
		stay := next(q, maxMonthsActive)
		for k := range q {
			q[k] = hazardCap*in[k] + (1-hazardCap)*stay[k]
		}
	}
	mix[maxMonthsActive] = q
	return mix
}()

// turnover ends month m: customers leave at random with the tenure hazard,
// as many new customers sign up for month m+1, and contracts evolve.
// Departures are independent of the churn label, as in the lab, where
// labels flip from month to month while customers stay: churn_label is the
// risk a model must rank, turnover only keeps the population stationary.
func (s *sim) turnover(m int) {
	kept := s.users[:0]
	left := 0
	for _, u := range s.users {
		if s.rng.Float64() < hazard(m-int(u.signupMonth)) {
			left++
			continue
		}
		kept = append(kept, u)
	}
	// kept aliases s.users; the slots past len(kept) are free for signups.
	for range left {
		kept = append(kept, s.newUser(m+1, 0))
	}
	s.users = kept
	for i := range s.users {
		u := &s.users[i]
		y := min((m+1-int(u.signupMonth))/12, 6)
		switch u.contract {
		case contractMonthly:
			if s.rng.Float64() < commitHazard[y] {
				u.contract = contractTwoYear
				if s.rng.Float64() < commitOneYear[y] {
					u.contract = contractOneYear
				}
			}
		case contractOneYear:
			if s.rng.Float64() < renewHazard[y] {
				u.contract = contractTwoYear
			}
		}
	}
}

// poisson draws a Poisson count with mean lambda (Knuth; lambda is small).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// lognormal1 draws a log-normal multiplier with mean 1 and log-sd sigma.
func lognormal1(r *rand.Rand, sigma float64) float64 {
	return math.Exp(sigma*r.NormFloat64() - sigma*sigma/2)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func clamp(x, lo, hi float64) float64 { return min(max(x, lo), hi) }

// roundTo rounds x to a multiple of 1/per (per = 20: 0.05; 100: cents).
func roundTo(x, per float64) float64 { return math.Round(x*per) / per }

func pick(b bool, yes, no float64) float64 {
	if b {
		return yes
	}
	return no
}

func pickS(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// map3 picks a value per internet service: no, DSL, fiber.
func map3(net uint8, no, dsl, fiber float64) float64 {
	switch net {
	case netDSL:
		return dsl
	case netFiber:
		return fiber
	}
	return no
}
