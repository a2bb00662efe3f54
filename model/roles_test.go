package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWords(t *testing.T) {
	for in, want := range map[string]string{
		"DeployProd":      "Deploy Prod",
		"EUProd2":         "EU Prod 2",
		"prod-eu_west.1":  "prod eu west 1",
		"Prod-W1-OneBox":  "Prod W 1 One Box",
		"ProdAPIGateway":  "Prod API Gateway",
		"Рrod":            "Prod",
		"PreProdValidate": "Pre Prod Validate",
	} {
		assert.Equal(t, want, Words(in), in)
	}
}

// TestProductionNames: production by its word in any case and word form,
// and in the languages teams name stages in; not pre-production, not a
// word that merely contains prod.
func TestProductionNames(t *testing.T) {
	rr := DefaultRoleRules()
	for _, name := range []string{"Prod", "prod-0", "Deploy-Production", "EU_PROD", "DeployProd", "ProdEU", "DeployToPRD", "Produktion", "Producción", "Produção", "Продакшн", "生产环境", "本番", "프로덕션", "โปรดักชัน"} {
		assert.True(t, Matches(rr.Production, name) && !Matches(rr.NonProduction, name), name)
	}
	for _, name := range []string{"PreProd", "pre-prod", "NonProd", "non_production", "Product", "Productivity", "Reproduce", "Build", "Staging"} {
		assert.False(t, Matches(rr.Production, name) && !Matches(rr.NonProduction, name), name)
	}
}

// TestPreProductionNames: the stages that play alpha, beta and gamma under
// other names.
func TestPreProductionNames(t *testing.T) {
	rr := DefaultRoleRules()
	infos := []StageInfo{}
	names := map[string]string{
		"Alpha": "alpha", "Dev": "alpha", "DeployDev": "alpha",
		"Beta": "beta", "IntegrationTests": "beta", "Validate": "beta", "QA": "beta", "Test": "beta",
		"Gamma": "gamma", "PreProd": "gamma", "Pre-Prod": "gamma", "Staging": "gamma", "UAT": "gamma",
		"Gamma-OneBox": "gamma one-box", "PreProdCanary": "gamma one-box",
	}
	var order []string
	for n := range names {
		order = append(order, n)
		infos = append(infos, StageInfo{Name: n})
	}
	roles := Roles("1", infos, rr)
	for i, n := range order {
		assert.Equal(t, names[n], roles[i].PreProd, n)
	}
}

// TestRoles: production by name, by tag, by account, by where it deploys,
// and after the first production stage.
func TestRoles(t *testing.T) {
	rr := DefaultRoleRules()
	rr.ProductionAccounts = map[string]bool{"333": true}
	tgt := func(account, region string, tags map[string]string) []Target {
		return []Target{{Account: account, Region: region, Stack: "s", Tags: tags}}
	}
	stages := []StageInfo{
		{Name: "Source"},
		{Name: "Infra", Targets: tgt("222", "eu-west-1", nil)},
		{Name: "Beta", Targets: tgt("111", "eu-west-1", nil)},
		{Name: "Blue", Targets: tgt("222", "eu-west-1", map[string]string{"Environment": "production"})},
		{Name: "Green", Targets: tgt("444", "us-east-1", nil)},
		{Name: "Accounted", Targets: tgt("333", "us-east-1", nil)},
	}
	roles := Roles("000", stages, rr)
	assert.False(t, roles[0].Deploys)
	assert.True(t, roles[1].Production, "shared infrastructure where production deploys: %s", roles[1].Why)
	assert.False(t, roles[2].Production)
	assert.Equal(t, "beta", roles[2].PreProd)
	assert.True(t, roles[3].Production)
	assert.Contains(t, roles[3].Why, "tagged Environment=production")
	assert.True(t, roles[4].Production)
	assert.Contains(t, roles[4].Why, "after production stage Blue")
}
