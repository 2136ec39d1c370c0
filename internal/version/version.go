// Package version holds the release version stamped in at build time.
package version

import (
	"regexp"
	"strings"
)

// Version is set with -ldflags "-X github.com/kubexr/kubectl-xr/internal/version.Version=…".
var Version = "dev"

// semver is krew's (and make dist's) release version: vMAJOR.MINOR.PATCH[-pre][+build].
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// describe is what git describe adds past a tag: commits since it, a dirty tree.
var describe = regexp.MustCompile(`-[0-9]+-g[0-9a-f]+(-dirty)?$|-dirty$`)

// Released says whether v is a release version (make dist's), not a development build
// ("dev", a bare commit, a dirty tree's describe output).
func Released(v string) bool {
	return semver.MatchString(v) && !describe.MatchString(v)
}

// ImageRepository is where xr-webhook's released images are published.
const ImageRepository = "ghcr.io/kubexr/xr-webhook"

// ImageTag is the image tag of a version: a semantic version's build metadata
// ("+build.5") with '_' for the '+' tags cannot hold.
func ImageTag(v string) string { return strings.ReplaceAll(v, "+", "_") }

// Image is the released xr-webhook image of version v.
func Image(v string) string { return ImageRepository + ":" + ImageTag(v) }
