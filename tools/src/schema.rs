//! Schema validation of rendered objects against Kubernetes v1.33 and Argo CD CRD schemas held
//! offline in the binary (`tools/schemas/`, made by `scripts/gen-schemas.py`). Strict: unknown
//! fields are errors, as the API server's strict field validation would say.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, LazyLock, Mutex};

static BUNDLE: &[u8] = include_bytes!("../schemas/kubernetes-strict.json.gz");

/// What the schema gate says about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaCheck {
    Valid,
    /// Each problem as `path: message`.
    Invalid(Vec<String>),
    /// No schema for this apiVersion/kind (a CRD agentops does not carry).
    UnknownKind(String),
}

pub struct SchemaStore {
    pub version: String,
    defs: Value,
    kinds: HashMap<String, String>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

static BUILTIN: LazyLock<Result<SchemaStore, String>> =
    LazyLock::new(|| SchemaStore::from_gzip(BUNDLE));

impl SchemaStore {
    /// The schemas shipped in the binary.
    pub fn builtin() -> Result<&'static SchemaStore, String> {
        BUILTIN.as_ref().map_err(Clone::clone)
    }

    fn from_gzip(bytes: &[u8]) -> Result<Self, String> {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| format!("schema bundle: {e}"))?;
        let bundle: Value =
            serde_json::from_slice(&text).map_err(|e| format!("schema bundle: {e}"))?;
        let kinds = bundle
            .get("kinds")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            version: bundle
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string(),
            defs: bundle.get("$defs").cloned().unwrap_or(Value::Null),
            kinds,
            validators: Mutex::new(HashMap::new()),
        })
    }

    pub fn kinds(&self) -> usize {
        self.kinds.len()
    }

    fn validator(&self, def: &str) -> Result<Arc<jsonschema::Validator>, String> {
        if let Ok(cache) = self.validators.lock()
            && let Some(v) = cache.get(def)
        {
            return Ok(v.clone());
        }
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": self.defs,
            "$ref": format!("#/$defs/{def}"),
        });
        let validator = Arc::new(
            jsonschema::options()
                .should_validate_formats(false)
                .build(&schema)
                .map_err(|e| format!("schema {def}: {e}"))?,
        );
        if let Ok(mut cache) = self.validators.lock() {
            cache.insert(def.to_string(), validator.clone());
        }
        Ok(validator)
    }

    /// Validates one object by its apiVersion and kind.
    pub fn check(&self, obj: &Value) -> SchemaCheck {
        let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let key = format!("{api}/{kind}");
        let Some(def) = self.kinds.get(&key) else {
            return SchemaCheck::UnknownKind(key);
        };
        let validator = match self.validator(def) {
            Ok(v) => v,
            Err(e) => return SchemaCheck::Invalid(vec![e]),
        };
        let problems: Vec<String> = validator
            .iter_errors(obj)
            .take(10)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if problems.is_empty() {
            SchemaCheck::Valid
        } else {
            SchemaCheck::Invalid(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(extra: Value) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "replicas": 2,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1",
                                           "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]}}}});
        if let (Value::Object(d), Value::Object(e)) = (&mut d, extra) {
            d.extend(e);
        }
        d
    }

    #[test]
    fn valid_invalid_unknown_field_and_unknown_kind() {
        let store = SchemaStore::builtin().unwrap();
        assert!(store.kinds() > 250, "{}", store.kinds());
        assert_eq!(store.check(&deployment(json!({}))), SchemaCheck::Valid);
        let mut typo = deployment(json!({}));
        typo["spec"]["replicas"] = json!("two");
        assert!(
            matches!(store.check(&typo), SchemaCheck::Invalid(p) if p[0].contains("/spec/replicas"))
        );
        let mut unknown = deployment(json!({}));
        unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = json!("Always");
        assert!(
            matches!(store.check(&unknown), SchemaCheck::Invalid(p) if p[0].contains("imagePullPolcy")),
            "strict about unknown fields"
        );
        assert!(
            matches!(store.check(&json!({"apiVersion": "x.io/v1", "kind": "Thing"})), SchemaCheck::UnknownKind(k) if k == "x.io/v1/Thing")
        );
    }

    #[test]
    fn argo_cd_applications_are_known_and_strict() {
        let store = SchemaStore::builtin().unwrap();
        let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web", "namespace": "argocd"},
            "spec": {"project": "default", "source": {"repoURL": "https://git.example.com/x.git", "path": "apps/web", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"}}});
        assert_eq!(store.check(&app), SchemaCheck::Valid);
        let mut bad = app;
        bad["spec"]["destinaton"] = json!({});
        assert!(matches!(store.check(&bad), SchemaCheck::Invalid(_)));
    }
}
