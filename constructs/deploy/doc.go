// Package deploy holds the per-region deployment shapes a team's service
// stage is built from. Today it has GoCode, which builds a Go Lambda handler
// for provided.al2023 during synth without Docker.
package deploy
