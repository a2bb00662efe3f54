package verify

import (
	"slices"
	"strings"

	"github.com/safepipe/safepipe/model"
)

// alarm is a CloudWatch alarm created by a stack of the assembly.
type alarm struct {
	tpl *Template
	id  string // logical ID
	// name is the alarm's name, "" when CloudFormation generates it.
	name      string
	composite bool
	// pureOr: a composite whose rule is a disjunction of ALARM states, so
	// it is in ALARM whenever any child is.
	pureOr bool
	// children of a composite, as resolved (unresolved children left out).
	children []*alarm
	// versionScoped: a metric alarm on one Lambda version's metrics
	// (dimension ExecutedVersion), which watches a new version only.
	versionScoped bool
	// trafficFloor: a metric alarm that fires when its metric falls
	// below the threshold and treats missing data as breaching: a guard
	// that the region saw enough traffic to judge a change, not a failure.
	trafficFloor bool
}

// key identifies an alarm across the templates of one stack: two
// versions of a stack deployed by two stages create the same alarm.
func (a *alarm) key() string {
	if a.name != "" {
		return a.tpl.Account + "/" + a.tpl.Region + "/" + a.name
	}
	return a.tpl.Path + "#" + a.id
}

func (a *alarm) String() string {
	if a.name != "" {
		return a.name
	}
	return a.tpl.Path + "#" + a.id
}

// alarmIndex finds the alarms of the assembly by template and logical ID
// and by region and name.
type alarmIndex struct {
	byRes  map[*Template]map[string]*alarm
	byName map[string]map[string][]*alarm // region → name → alarms (any account)
}

func newAlarmIndex(templates []*Template) *alarmIndex {
	ix := &alarmIndex{byRes: map[*Template]map[string]*alarm{}, byName: map[string]map[string][]*alarm{}}
	for _, t := range templates {
		for _, id := range sortedKeys(t.Resources) {
			r := t.Resources[id]
			if r.Type != "AWS::CloudWatch::Alarm" && r.Type != "AWS::CloudWatch::CompositeAlarm" {
				continue
			}
			a := &alarm{tpl: t, id: id, composite: r.Type == "AWS::CloudWatch::CompositeAlarm"}
			if raw, ok := r.Properties["AlarmName"]; ok {
				a.name = pseudo(t, model.Flatten(raw))
				if strings.Contains(a.name, "${") {
					a.name = ""
				}
			}
			if !a.composite {
				a.versionScoped = hasDimension(r.Properties, "ExecutedVersion")
				op := model.Flatten(r.Properties["ComparisonOperator"])
				a.trafficFloor = (op == "LessThanThreshold" || op == "LessThanOrEqualToThreshold") &&
					model.Flatten(r.Properties["TreatMissingData"]) == "breaching"
			}
			if ix.byRes[t] == nil {
				ix.byRes[t] = map[string]*alarm{}
			}
			ix.byRes[t][id] = a
			if a.name != "" {
				if ix.byName[t.Region] == nil {
					ix.byName[t.Region] = map[string][]*alarm{}
				}
				ix.byName[t.Region][a.name] = append(ix.byName[t.Region][a.name], a)
			}
		}
	}
	// Children, once every alarm is indexed.
	for _, t := range templates {
		for _, id := range sortedKeys(ix.byRes[t]) {
			a := ix.byRes[t][id]
			if !a.composite {
				continue
			}
			rule := model.Flatten(t.Resources[id].Properties["AlarmRule"])
			var refs []string
			refs, a.pureOr = parseAlarmRule(rule)
			for _, ref := range refs {
				if c := ix.resolve(t, ref); c != nil && c != a {
					a.children = append(a.children, c)
				}
			}
		}
	}
	return ix
}

// pseudo replaces the pseudo parameters a name may use with the stack's.
func pseudo(t *Template, s string) string {
	if !strings.Contains(s, "${AWS::") {
		return s
	}
	r := strings.NewReplacer("${AWS::StackName}", orPlaceholder(t.StackName, "${AWS::StackName}"),
		"${AWS::Region}", orPlaceholder(t.Region, "${AWS::Region}"),
		"${AWS::AccountId}", orPlaceholder(t.Account, "${AWS::AccountId}"))
	return r.Replace(s)
}

func orPlaceholder(v, p string) string {
	if v == "" {
		return p
	}
	return v
}

// hasDimension reports whether a metric alarm uses a dimension of that
// name, directly or in one of its metrics.
func hasDimension(props map[string]any, name string) bool {
	has := func(dims any) bool {
		l, _ := dims.([]any)
		for _, d := range l {
			if model.Flatten(asMap(d)["Name"]) == name {
				return true
			}
		}
		return false
	}
	if has(props["Dimensions"]) {
		return true
	}
	metrics, _ := props["Metrics"].([]any)
	for _, m := range metrics {
		if has(asMap(asMap(asMap(m)["MetricStat"])["Metric"])["Dimensions"]) {
			return true
		}
	}
	return false
}

// parseAlarmRule returns the alarms a composite alarm rule names and
// whether the rule is a pure disjunction of ALARM states
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html:
// ALARM("alarm-name or alarm-ARN") is TRUE if the named alarm is in ALARM
// state; OR, AND and NOT combine them). Any other function or operator
// makes it not a disjunction.
func parseAlarmRule(rule string) (refs []string, pureOr bool) {
	pureOr = true
	rest := rule
	var skeleton strings.Builder
	for {
		i := indexFunc(rest)
		if i < 0 {
			skeleton.WriteString(rest)
			break
		}
		fn, start := funcAt(rest, i)
		skeleton.WriteString(rest[:i])
		end := strings.IndexByte(rest[start:], ')')
		if end < 0 {
			pureOr = false
			break
		}
		arg := strings.TrimSpace(rest[start : start+end])
		arg = strings.Trim(arg, `"'`)
		refs = append(refs, arg)
		if fn != "ALARM" {
			pureOr = false
		}
		skeleton.WriteString(" x ")
		rest = rest[start+end+1:]
	}
	for _, tok := range strings.FieldsFunc(skeleton.String(), func(r rune) bool { return r == ' ' || r == '(' || r == ')' || r == '\t' || r == '\n' }) {
		if tok != "x" && !strings.EqualFold(tok, "OR") {
			pureOr = false
		}
	}
	return refs, pureOr && len(refs) > 0
}

// indexFunc finds the next state function call in a rule.
func indexFunc(s string) int {
	best := -1
	for _, fn := range []string{"ALARM(", "OK(", "INSUFFICIENT_DATA("} {
		if i := strings.Index(s, fn); i >= 0 && (best < 0 || i < best) {
			// "INSUFFICIENT_DATA(" contains no "ALARM(", "OK(" may be
			// the tail of a longer word only in malformed rules.
			best = i
		}
	}
	return best
}

func funcAt(s string, i int) (string, int) {
	for _, fn := range []string{"ALARM", "OK", "INSUFFICIENT_DATA"} {
		if strings.HasPrefix(s[i:], fn+"(") {
			return fn, i + len(fn) + 1
		}
	}
	return "", i + 1
}

// resolve finds the alarm a reference names from template t: "${X}" or
// "${X.Arn}" (a resource of t), an alarm ARN, or a name in t's region.
func (ix *alarmIndex) resolve(t *Template, ref string) *alarm {
	if strings.HasPrefix(ref, "${") && strings.HasSuffix(ref, "}") {
		id := strings.TrimSuffix(strings.TrimSuffix(ref[2:len(ref)-1], ".Arn"), ".AlarmName")
		return ix.byRes[t][id]
	}
	account, region, name := t.Account, t.Region, ref
	if a, r, n, ok := alarmARN(ref); ok {
		account, region, name = a, r, n
	}
	return ix.lookup(account, region, name)
}

// lookup finds an alarm by name in an account and region; "" matches any.
func (ix *alarmIndex) lookup(account, region, name string) *alarm {
	var cands []*alarm
	if region == "" {
		for _, r := range sortedKeys(ix.byName) {
			cands = append(cands, ix.byName[r][name]...)
		}
	} else {
		cands = append(cands, ix.byName[region][name]...)
		cands = append(cands, ix.byName[""][name]...)
	}
	for _, a := range cands {
		if account == "" || a.tpl.Account == "" || a.tpl.Account == account {
			return a
		}
	}
	return nil
}

// alarmARN splits "arn:partition:cloudwatch:region:account:alarm:name".
func alarmARN(s string) (account, region, name string, ok bool) {
	p := strings.SplitN(s, ":", 7)
	if len(p) != 7 || p[0] != "arn" || p[2] != "cloudwatch" || p[5] != "alarm" {
		return "", "", "", false
	}
	acct := p[4]
	if !isAccount(acct) {
		acct = ""
	}
	reg := p[3]
	if strings.Contains(reg, "${") {
		reg = ""
	}
	return acct, reg, p[6], true
}

// closure returns the alarms a is made of: itself for a metric alarm, the
// closure of its children for a composite (each alarm once, cycles cut).
func (a *alarm) closure() []*alarm {
	var out []*alarm
	seen := map[*alarm]bool{}
	var walk func(*alarm)
	walk = func(x *alarm) {
		if seen[x] {
			return
		}
		seen[x] = true
		if !x.composite {
			out = append(out, x)
			return
		}
		for _, c := range x.children {
			walk(c)
		}
	}
	walk(a)
	return out
}

// orClosure returns the keys of the metric alarms whose ALARM state puts a
// in ALARM: through pure disjunctions only.
func (a *alarm) orClosure() map[string]bool {
	out := map[string]bool{}
	seen := map[*alarm]bool{}
	var walk func(*alarm)
	walk = func(x *alarm) {
		if seen[x] {
			return
		}
		seen[x] = true
		if !x.composite {
			out[x.key()] = true
			return
		}
		if !x.pureOr {
			return
		}
		for _, c := range x.children {
			walk(c)
		}
	}
	walk(a)
	return out
}

// covers reports whether a is in ALARM whenever any alarm of high is: a
// pure-OR composite over all of them, or the one high-severity alarm
// itself (a deployment group that watches a single alarm).
func (a *alarm) covers(high []*alarm) bool {
	if !a.composite && len(high) == 1 {
		return high[0].key() == a.key()
	}
	if !a.composite || !a.pureOr || len(high) == 0 {
		return false
	}
	in := a.orClosure()
	for _, h := range high {
		if !in[h.key()] {
			return false
		}
	}
	return true
}

// deploymentAlarms returns the alarm references the deployments of a
// template watch (CodeDeploy deployment groups, ECS services), as written.
func deploymentAlarms(t *Template) map[string][]string {
	out := map[string][]string{} // logical ID → references
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		switch r.Type {
		case "AWS::CodeDeploy::DeploymentGroup":
			l, _ := asMap(r.Properties["AlarmConfiguration"])["Alarms"].([]any)
			for _, e := range l {
				out[id] = append(out[id], model.Flatten(asMap(e)["Name"]))
			}
		case "AWS::ECS::Service":
			l, _ := asMap(asMap(r.Properties["DeploymentConfiguration"])["Alarms"])["AlarmNames"].([]any)
			for _, e := range l {
				out[id] = append(out[id], model.Flatten(e))
			}
		}
	}
	return out
}

// highSeverity returns the region's high-severity alarms as verify sees
// them: the metric alarms the production deployments of the templates
// watch for automatic rollback (through composites), except those scoped
// to one version; without any, every such metric alarm of the templates
// that is not a traffic floor.
func (ix *alarmIndex) highSeverity(templates []*Template) []*alarm {
	seen := map[string]bool{}
	var out []*alarm
	add := func(a *alarm) {
		if !a.versionScoped && !seen[a.key()] {
			seen[a.key()] = true
			out = append(out, a)
		}
	}
	for _, t := range templates {
		refs := deploymentAlarms(t)
		for _, id := range sortedKeys(refs) {
			for _, ref := range refs[id] {
				if a := ix.resolve(t, ref); a != nil {
					for _, m := range a.closure() {
						add(m)
					}
				}
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, t := range templates {
		for _, id := range sortedKeys(ix.byRes[t]) {
			if a := ix.byRes[t][id]; !a.composite && !a.trafficFloor {
				add(a)
			}
		}
	}
	return out
}

// composites returns the composite alarms of the stacks in an account and
// region.
func (ix *alarmIndex) composites(account, region string, templates []*Template) []*alarm {
	return ix.inEnv(account, region, templates, func(a *alarm) bool { return a.composite })
}

// inEnv returns the alarms of the stacks in an account and region ("" for
// either matches any) that keep accepts, each once, in template and
// logical ID order.
func (ix *alarmIndex) inEnv(account, region string, templates []*Template, keep func(*alarm) bool) []*alarm {
	var out []*alarm
	for _, t := range templates {
		if t.Region != region && t.Region != "" && region != "" {
			continue
		}
		if account != "" && t.Account != "" && t.Account != account {
			continue
		}
		for _, id := range sortedKeys(ix.byRes[t]) {
			if a := ix.byRes[t][id]; keep(a) && !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// aggregates returns the alarms that play the aggregate role in an
// account and region: pure-OR composites of a stack there whose children
// include every high-severity alarm.
func (ix *alarmIndex) aggregates(account, region string, templates []*Template, high []*alarm) []*alarm {
	if len(high) == 0 {
		return nil
	}
	return ix.inEnv(account, region, templates, func(a *alarm) bool { return a.covers(high) })
}

// alarmNameCollisions reports an alarm name that two stacks create in one
// account and region (SP039). "This name must be unique within the
// Region" (AlarmName, API_PutMetricAlarm), and PutMetricAlarm "Creates or
// updates an alarm": the second stack takes over the first's alarm, and
// whichever stack changes or goes last decides what it watches. The
// templates of one stack deployed by two stages (a region's one-box and
// regional steps) are one stack. Alarms whose name or environment verify
// cannot read are left out.
func (c *checker) alarmNameCollisions(templates []*Template) {
	type place struct{ account, region, name string }
	stacks := map[place][]string{}
	first := map[place]*alarm{}
	for _, t := range templates {
		if t.Account == "" || t.Region == "" || t.StackName == "" {
			continue
		}
		for _, id := range sortedKeys(c.alarms.byRes[t]) {
			a := c.alarms.byRes[t][id]
			if a.name == "" {
				continue
			}
			k := place{t.Account, t.Region, a.name}
			if !slices.Contains(stacks[k], t.StackName) {
				stacks[k] = append(stacks[k], t.StackName)
			}
			if first[k] == nil {
				first[k] = a
			}
		}
	}
	keys := make([]place, 0, len(stacks))
	for k := range stacks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b place) int {
		return strings.Compare(a.account+"/"+a.region+"/"+a.name, b.account+"/"+b.region+"/"+b.name)
	})
	for _, k := range keys {
		if len(stacks[k]) < 2 {
			continue
		}
		a := first[k]
		c.add(RuleAlarmNameCollision, Finding{Region: k.region, Resource: a.id, Template: a.tpl.Path},
			"alarm %s is created by %d stacks in account %s, region %s (%s): alarm names are unique per account and region, so one stack's alarm is the other's",
			Escape(k.name), len(stacks[k]), k.account, k.region, Escape(strings.Join(stacks[k], ", ")))
	}
}
