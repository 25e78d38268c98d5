// Command kube-render reads Kubernetes YAML the way kubectl does and renders Kanister Blueprint
// phase arguments the way the Kanister controller does, for the tests in test/k8s (which build it
// once into the cache: scripts/k8s-tools.sh).
//
//	kube-render yaml < manifests.yaml     a JSON array, one element per YAML document
//	kube-render template < request.json   {"args": {...}, "params": {...}} -> the rendered args
//	kube-render openapi <zip> <h1:sum> <dir>
//	                                      checks a k8s.io/kubernetes module zip against its go.sum
//	                                      hash and extracts its api/openapi-spec/v3/*.json into dir
//
// yaml: documents are split on "---" lines as k8s.io/apimachinery's YAMLReader splits them, and
// each is converted with sigs.k8s.io/yaml (YAML 1.1 scalars, as kubectl reads them) in its strict
// form, so a duplicated field fails as the API server's fieldValidation=Strict fails it.
//
// template: Kanister's param.RenderArgs: every string in the arguments (map keys too) is a
// text/template with option missingkey=error and sprig's TxtFuncMap (minus the functions Kanister
// refuses as not FIPS-compliant), executed against TemplateParams. The params types below copy the
// fields of Kanister's param.TemplateParams and crv1alpha1 types that a Blueprint reads; Kanister's
// own Go module is not served by the module proxy, so it cannot be imported.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) == 5 && os.Args[1] == "openapi" {
		if err := extractOpenAPI(os.Args[2], os.Args[3], os.Args[4]); err != nil {
			fail(err)
		}
		return
	}
	if len(os.Args) != 2 {
		fail(errors.New("usage: kube-render yaml|template < input"))
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var out any
	switch os.Args[1] {
	case "yaml":
		out, err = yamlDocuments(in)
	case "template":
		out, err = renderRequest(in)
	default:
		err = fmt.Errorf("unknown command %q (yaml|template)", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kube-render:", err)
	os.Exit(1)
}

// yamlDocuments splits a multi-document stream as apimachinery's YAMLReader does: a line starting
// with "---" ends a document, and only spaces or a comment may follow the marker.
func yamlDocuments(in []byte) ([]json.RawMessage, error) {
	var docs [][]byte
	var cur bytes.Buffer
	s := bufio.NewScanner(bytes.NewReader(in))
	s.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		if strings.HasPrefix(line, "---") {
			rest := strings.TrimSpace(line[3:])
			if rest != "" && !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("line %d: only a comment may follow a document separator", n)
			}
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	docs = append(docs, cur.Bytes())
	out := []json.RawMessage{}
	for i, d := range docs {
		j, err := yaml.YAMLToJSONStrict(d)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if string(j) == "null" { // empty, or comments only: kubectl skips it
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

// Artifact is crv1alpha1.Artifact.
type Artifact struct {
	KeyValue      map[string]string `json:"keyValue"`
	KopiaSnapshot string            `json:"kopiaSnapshot"`
}

// Location is crv1alpha1.Location.
type Location struct {
	Type     string `json:"type"`
	Bucket   string `json:"bucket"`
	Endpoint string `json:"endpoint"`
	Prefix   string `json:"prefix"`
	Region   string `json:"region"`
}

// KeyPair is param.KeyPair: the Profile's secret, read by the controller.
type KeyPair struct {
	ID     string
	Secret string
}

// Credential is param.Credential (the kopia server credential left out).
type Credential struct {
	Type    string
	KeyPair *KeyPair
	Secret  *Secret
}

// Profile is param.Profile.
type Profile struct {
	Location      Location
	Credential    Credential
	SkipSSLVerify bool
}

// Secret and ConfigMap hold what a template reads of v1.Secret and v1.ConfigMap: data
// ([]byte, base64 in JSON, as in the API) and metadata.
type Secret struct {
	ObjectMeta map[string]any    `json:"metadata"`
	Data       map[string][]byte `json:"data"`
	Type       string            `json:"type"`
}

type ConfigMap struct {
	ObjectMeta map[string]any    `json:"metadata"`
	Data       map[string]string `json:"data"`
}

// WorkloadParams is param.StatefulSetParams / DeploymentParams / DeploymentConfigParams.
type WorkloadParams struct {
	Name                   string
	Namespace              string
	Pods                   []string
	Containers             [][]string
	PersistentVolumeClaims map[string]map[string]string
}

// ObjectParams is param.PVCParams / NamespaceParams.
type ObjectParams struct {
	Name      string
	Namespace string
}

// Phase is param.Phase: what `kando output` of an earlier phase produced.
type Phase struct {
	Secrets map[string]Secret
	Output  map[string]any
}

// TemplateParams is param.TemplateParams: only the fields for the ActionSet's object kind are set.
type TemplateParams struct {
	StatefulSet      *WorkloadParams
	DeploymentConfig *WorkloadParams
	Deployment       *WorkloadParams
	PVC              *ObjectParams
	Namespace        *ObjectParams
	ArtifactsIn      map[string]Artifact
	ConfigMaps       map[string]ConfigMap
	Secrets          map[string]Secret
	Time             string
	Profile          *Profile
	Options          map[string]string
	Object           map[string]any
	Phases           map[string]*Phase
	PodAnnotations   map[string]string
	PodLabels        map[string]string
}

type renderInput struct {
	Args   any            `json:"args"`
	Params TemplateParams `json:"params"`
}

func renderRequest(in []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.DisallowUnknownFields() // a misspelled params field in a test fails instead of rendering empty
	var r renderInput
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	return render(r.Args, &r.Params)
}

// render walks the arguments as Kanister's param.render does: strings are templates, slices and
// maps (keys too) are walked, every other value is kept.
func render(v any, tp *TemplateParams) (any, error) {
	switch t := v.(type) {
	case string:
		return renderString(t, tp)
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			r, err := render(e, tp)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			rk, err := renderString(k, tp)
			if err != nil {
				return nil, err
			}
			re, err := render(e, tp)
			if err != nil {
				return nil, err
			}
			out[rk] = re
		}
		return out, nil
	default:
		return v, nil
	}
}

func renderString(s string, tp *TemplateParams) (string, error) {
	t, err := template.New("config").Option("missingkey=error").Funcs(funcMap()).Parse(s)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, tp); err != nil {
		return "", err
	}
	return b.String(), nil
}

// funcMap is Kanister's ksprig.TxtFuncMap: sprig's, with the functions that are not
// FIPS-compliant failing when called.
func funcMap() template.FuncMap {
	m := sprig.TxtFuncMap()
	refused := func(name string) func(...any) (string, error) {
		return func(...any) (string, error) {
			return "", fmt.Errorf("sprig usage of '%s' is not allowed by kanister as it is not FIPS compatible", name)
		}
	}
	for _, name := range []string{"bcrypt", "derivePassword", "htpasswd"} {
		m[name] = refused(name)
	}
	gen := m["genPrivateKey"].(func(string) string)
	m["genPrivateKey"] = func(typ string) (string, error) {
		switch typ {
		case "rsa", "ecdsa", "ed25519":
			return gen(typ), nil
		}
		return "", fmt.Errorf("sprig usage of 'genPrivateKey for %s key' is not allowed by kanister as it is not FIPS compatible", typ)
	}
	return m
}

// extractOpenAPI checks a module zip from the Go module proxy against its go.sum hash (the h1
// hash of golang.org/x/mod/sumdb/dirhash: SHA-256 over the sorted "<sha256 hex>  <name>" lines of
// every file), then writes the OpenAPI v3 documents it holds into dir.
func extractOpenAPI(zipPath, want, dir string) error {
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer z.Close()
	files := make([]*zip.File, len(z.File))
	copy(files, z.File)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	summary := sha256.New()
	for _, f := range files {
		if strings.Contains(f.Name, "\n") {
			return fmt.Errorf("%s: a file name with a newline", zipPath)
		}
		sum, err := sha256Of(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(summary, "%x  %s\n", sum, f.Name)
	}
	if got := "h1:" + base64.StdEncoding.EncodeToString(summary.Sum(nil)); got != want {
		return fmt.Errorf("%s: hash %s, expected %s", zipPath, got, want)
	}
	n := 0
	for _, f := range files {
		parts := strings.SplitN(f.Name, "/", 3) // k8s.io, kubernetes@<version>, path
		if len(parts) != 3 || path.Dir(parts[2]) != "api/openapi-spec/v3" || path.Ext(parts[2]) != ".json" {
			continue
		}
		if err := writeFile(f, filepath.Join(dir, path.Base(parts[2]))); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s holds no api/openapi-spec/v3/*.json", zipPath)
	}
	return nil
}

func sha256Of(f *zip.File) ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func writeFile(f *zip.File, name string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
