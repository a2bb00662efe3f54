package waves

import (
	_ "embed" // the default catalog is embedded in the binary
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	_ "time/tzdata" // time zones validate on machines without a zoneinfo database

	"github.com/safepipe/safepipe/internal/strict"
)

// Limits of a catalog, checked before anything is planned (see the package
// documentation for why each is what it is).
const (
	// MaxCatalogBytes is the largest catalog file or parameter read.
	MaxCatalogBytes = 1 << 20
	// MaxRegions is the most regions a catalog may list.
	MaxRegions = 1000
	// MaxAZsPerRegion is the most AZs a region may list: a zonal plan
	// takes one stage per AZ, and a pipeline has at most MaxStages.
	MaxAZsPerRegion = MaxStages
	// MaxServicesPerRegion is the most services a region may list (the
	// SDKs' endpoint data knows about 400).
	MaxServicesPerRegion = 1000
)

var catalogLimits = strict.Limits{MaxBytes: MaxCatalogBytes, MaxDepth: 8}

// Tier is an organisation's judgement of how much traffic a region carries.
// The planner deploys to low-traffic regions first. The tiers in the
// embedded catalog are defaults; override them with your own catalog.
type Tier string

// The traffic tiers, from least to most traffic.
const (
	TierLow    Tier = "low"
	TierMedium Tier = "medium"
	TierHigh   Tier = "high"
)

// rank orders tiers from least to most traffic; unknown tiers rank last.
func (t Tier) rank() int {
	switch t {
	case TierLow:
		return 0
	case TierMedium:
		return 1
	case TierHigh:
		return 2
	}
	return 3
}

// Region is one AWS region of the catalog.
type Region struct {
	// Code is the region code, e.g. "us-east-1".
	Code string `json:"code"`
	// Partition is the AWS partition, e.g. "aws".
	Partition string `json:"partition"`
	// Name is the display name, e.g. "US East (N. Virginia)".
	Name string `json:"name"`
	// AZs are the region's Availability Zone IDs (not account-specific
	// names), e.g. "use1-az1", in deployment order.
	AZs []string `json:"azs"`
	// Tier is the region's traffic tier.
	Tier Tier `json:"tier"`
	// TimeZone is the IANA time zone of the region, e.g. "America/New_York".
	TimeZone string `json:"tz"`
	// OptIn is true for regions an account must enable before use.
	OptIn bool `json:"optIn"`
	// Services are the services the region offers, by their endpoint
	// names in the AWS SDKs' endpoint data ("codepipeline", "monitoring"
	// for CloudWatch, "s3"), sorted. A region without them offers nothing
	// a policy requires (Policy.RequiredServices): unknown is not offered.
	Services []string `json:"services,omitempty"`
}

// Offers reports whether the region offers the service (its endpoint
// name).
func (r Region) Offers(service string) bool { return slices.Contains(r.Services, service) }

// Lacks returns the services of want the region does not offer, in want's
// order.
func (r Region) Lacks(want []string) []string {
	var out []string
	for _, s := range want {
		if !r.Offers(s) {
			out = append(out, s)
		}
	}
	return out
}

// Catalog is the central list of regions and AZs every pipeline pulls.
type Catalog struct {
	// Version identifies the catalog's revision, e.g. "2026.12".
	Version string `json:"version"`
	// Regions are the catalog's regions, sorted by code after parsing.
	Regions []Region `json:"regions"`
	// ServicesSource says where the regions' Services come from (a
	// document or data set and its version), e.g. "botocore 1.43.11
	// data/endpoints.json". Required when any region lists services; with
	// it, every region must.
	ServicesSource string `json:"servicesSource,omitempty"`

	index map[string]int
}

//go:embed catalog.json
var defaultCatalogJSON []byte

// DefaultCatalogJSON returns the embedded default catalog as published, so a
// platform team can start its own catalog from it.
func DefaultCatalogJSON() []byte {
	return append([]byte(nil), defaultCatalogJSON...)
}

// DefaultCatalog returns a fresh copy of the embedded catalog of every
// generally available commercial AWS region. It panics only if the embedded
// file is broken, which a test rules out.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(defaultCatalogJSON)
	if err != nil {
		panic("safepipe: embedded catalog is invalid: " + err.Error())
	}
	return c
}

// LoadCatalogFile reads and validates a catalog file (JSON), reading at
// most MaxCatalogBytes.
func LoadCatalogFile(path string) (*Catalog, error) {
	b, err := readFile(path, MaxCatalogBytes)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	c, err := ParseCatalog(b)
	if err != nil {
		return nil, prefixEach("catalog "+path+": ", "catalog: ", err)
	}
	return c, nil
}

// readFile reads at most max bytes of a file, failing beyond.
func readFile(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return strict.ReadAll(f, max)
}

// prefixEach rewrites every line of a joined error that starts with old to
// start with new, so that each problem names its source on its own line.
func prefixEach(new, old string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = new + strings.TrimPrefix(l, old)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// ParseCatalog decodes a catalog from JSON and validates it. The JSON is
// read strictly: one document and nothing after it, no duplicate keys,
// field names exactly as documented (a typo such as "az" for "azs", or
// "Regions" for "regions", is an error), values of the documented types,
// at most MaxCatalogBytes. The returned error joins every problem found,
// one per line, each starting "catalog: ".
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	if err := strict.JSON(data, &c, catalogLimits); err != nil {
		return nil, prefixEach("catalog: ", "", err)
	}
	if err := c.Validate(); err != nil {
		return nil, prefixEach("catalog: ", "catalog: ", err)
	}
	sort.Slice(c.Regions, func(i, j int) bool { return c.Regions[i].Code < c.Regions[j].Code })
	c.reindex()
	return &c, nil
}

func (c *Catalog) reindex() {
	c.index = make(map[string]int, len(c.Regions))
	for i, r := range c.Regions {
		c.index[r.Code] = i
	}
}

// Region returns the region with the given code. It never modifies the
// catalog, so it is safe for concurrent use.
func (c *Catalog) Region(code string) (Region, bool) {
	if i, ok := c.index[code]; ok && i < len(c.Regions) && c.Regions[i].Code == code {
		return c.Regions[i], true
	}
	for _, r := range c.Regions { // a catalog built or edited by hand
		if r.Code == code {
			return r, true
		}
	}
	return Region{}, false
}

// Codes returns every region code in the catalog, sorted.
func (c *Catalog) Codes() []string {
	out := make([]string, len(c.Regions))
	for i, r := range c.Regions {
		out[i] = r.Code
	}
	sort.Strings(out)
	return out
}

// regionCodeRE is the shape of an AWS region code: an area, optional
// qualifiers, a direction word and a number, e.g.
// "ap-southeast-1", "us-gov-west-1".
var regionCodeRE = regexp.MustCompile(`^([a-z]{2})-((?:[a-z]+-)*?)(north|south|east|west|central|northeast|northwest|southeast|southwest)-([0-9]+)$`)

// IsRegionCode reports whether code has the shape of an AWS region code
// ("eu-central-1", "us-gov-west-1"). It is the one definition every
// package that reads region codes uses (the catalog, the gate controller's
// configuration, the simulator's faults), so that a code one of them
// accepts is never refused by another.
func IsRegionCode(code string) bool { return len(code) <= 64 && regionCodeRE.MatchString(code) }

var knownPartitions = map[string]bool{"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true, "aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true}

var directionAbbrev = map[string]string{
	"north": "n", "south": "s", "east": "e", "west": "w", "central": "c",
	"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}

// AZIDPrefix returns the prefix AWS uses for the AZ IDs of a region, e.g.
// "use1" for "us-east-1" and "apse2" for "ap-southeast-2". It returns false
// for a string that is not a region code.
func AZIDPrefix(code string) (string, bool) {
	m := regionCodeRE.FindStringSubmatch(code)
	if m == nil {
		return "", false
	}
	// m[2] holds qualifiers such as "gov-"; AZ IDs of those regions use the
	// first letter of each qualifier (us-gov-west-1 → usgw1).
	q := ""
	for _, part := range strings.Split(strings.TrimSuffix(m[2], "-"), "-") {
		if part != "" {
			q += part[:1]
		}
	}
	return m[1] + q + directionAbbrev[m[3]] + m[4], true
}

var azIDRE = regexp.MustCompile(`^([a-z0-9]+)-az([0-9]+)$`)

// Validate checks the catalog and returns every problem at once, each naming
// the region and the field.
func (c *Catalog) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// Counts first: a catalog over them is not worth validating further.
	if len(c.Regions) > MaxRegions {
		return fmt.Errorf("catalog: %d regions, over the limit of %d", len(c.Regions), MaxRegions)
	}
	for i, r := range c.Regions {
		if len(r.AZs) > MaxAZsPerRegion {
			where := fmt.Sprintf("regions[%d]", i)
			if regionCodeRE.MatchString(r.Code) {
				where = fmt.Sprintf("region %q", r.Code)
			}
			add("catalog: %s has %d AZs, over the limit of %d", where, len(r.AZs), MaxAZsPerRegion)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if strings.TrimSpace(c.Version) == "" {
		add("catalog: version is empty")
	}
	if len(c.Regions) == 0 {
		add("catalog: regions is empty")
	}
	seenCode := map[string]int{}
	seenAZ := map[string]string{}
	for i, r := range c.Regions {
		where := fmt.Sprintf("regions[%d]", i)
		if r.Code != "" {
			where = fmt.Sprintf("region %q", r.Code)
		}
		prefix, ok := AZIDPrefix(r.Code)
		switch {
		case r.Code == "":
			add("%s: code is empty", where)
		case !ok:
			add("%s: code is not a known AWS region code shape (want e.g. \"us-east-1\")", where)
		}
		if j, dup := seenCode[r.Code]; dup && r.Code != "" {
			add("%s: duplicate region code (also regions[%d])", where, j)
		} else {
			seenCode[r.Code] = i
		}
		if !knownPartitions[r.Partition] {
			add("%s: partition %q is unknown (want one of aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc)", where, r.Partition)
		}
		if strings.TrimSpace(r.Name) == "" {
			add("%s: name is empty", where)
		}
		if len(r.AZs) == 0 {
			add("%s: azs is empty (a region needs at least one AZ ID)", where)
		}
		for _, az := range r.AZs {
			m := azIDRE.FindStringSubmatch(az)
			switch {
			case m == nil:
				add("%s: az %q is not an AZ ID (want e.g. %q)", where, az, prefix+"-az1")
			case ok && m[1] != prefix:
				add("%s: az %q does not belong to this region (its AZ IDs start with %q)", where, az, prefix+"-az")
			}
			if other, dup := seenAZ[az]; dup {
				if other == r.Code {
					add("%s: az %q is listed twice", where, az)
				} else {
					add("%s: az %q is also listed by region %q", where, az, other)
				}
			} else {
				seenAZ[az] = r.Code
			}
		}
		if r.Tier.rank() > 2 {
			add("%s: tier %q is unknown (want low, medium or high)", where, r.Tier)
		}
		if r.TimeZone == "" {
			add("%s: tz is empty (want an IANA time zone such as \"Europe/Dublin\")", where)
		} else if _, err := loadLocation(r.TimeZone); err != nil || r.TimeZone == "Local" {
			add("%s: tz %q is not an IANA time zone", where, r.TimeZone)
		}
		switch {
		case len(r.Services) == 0 && strings.TrimSpace(c.ServicesSource) != "":
			add("%s: services is empty; the catalog says where services come from (servicesSource %q), so every region lists them", where, c.ServicesSource)
		case len(r.Services) > 0 && strings.TrimSpace(c.ServicesSource) == "":
			add("%s: services is set and servicesSource is empty; say where the services come from (e.g. \"botocore 1.43.11 data/endpoints.json\")", where)
		}
		if len(r.Services) > MaxServicesPerRegion {
			add("%s: %d services, over the limit of %d", where, len(r.Services), MaxServicesPerRegion)
			continue
		}
		seenSvc := map[string]bool{}
		for _, svc := range r.Services {
			if !ServiceNameRE.MatchString(svc) {
				add("%s: services: %q is not a service's endpoint name (%s)", where, svc, ServiceNameRE)
			}
			if seenSvc[svc] {
				add("%s: services: %q is listed twice", where, svc)
			}
			seenSvc[svc] = true
		}
		if !slices.IsSorted(r.Services) {
			add("%s: services are not sorted", where)
		}
	}
	return errors.Join(errs...)
}

// ServiceNameRE is the shape of a service's endpoint name in the AWS SDKs'
// endpoint data ("codepipeline", "runtime.sagemaker").
var ServiceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,63}$`)

// PipelineServices are the services every region a CDK pipeline deploys
// to needs: its cross-region actions ("Cross-region actions are supported
// and can only be created in those AWS Regions where CodePipeline is
// supported", CodePipeline User Guide, actions-create-cross-region.html),
// the CloudFormation stacks they deploy, the support stack CDK creates in
// each action region (an S3 bucket and a KMS key for the artifacts), and
// Systems Manager, from which every stack of CDK's default synthesizer
// reads its BootstrapVersion parameter.
var PipelineServices = []string{"cloudformation", "codepipeline", "kms", "s3", "ssm"}
