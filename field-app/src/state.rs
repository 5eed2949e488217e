//! The CLI's state file: which server, which device id, where the key is, and the current session
//! token. JSON, mode 0600 (it holds a bearer token), written next to the key.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::key::{DeviceKey, read_limited, write_new_private_file};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest state file read.
const MAX_STATE_FILE: u64 = 64 * 1024;

/// What `kyukit-field` remembers between runs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The server's base URL.
    pub server: String,
    pub device_id: String,
    /// The device key (PKCS#8 PEM, 0600). An absolute path, so the state works from any directory.
    pub key_file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facility_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The paramedic's session token after `login` (a bearer secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The trust-list key pinned at enrollment (a JWK): the signed trust list must verify with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_list_key: Option<kyukit_card::Jwk>,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("server", &self.server)
            .field("device_id", &self.device_id)
            .field("key_file", &self.key_file)
            .field("facility_id", &self.facility_id)
            .field("label", &self.label)
            .field("session", &self.session.as_ref().map(|_| "<redacted>"))
            .field(
                "trust_list_key",
                &self.trust_list_key.as_ref().and_then(|k| k.kid.as_deref()),
            )
            .finish()
    }
}

impl State {
    /// The default state file for a key file: the same path with the extension `.json`
    /// (`device.pem` → `device.json`), i.e. next to the key.
    pub fn default_path(key_file: &Path) -> Result<PathBuf> {
        if key_file.extension().is_some_and(|e| e == "json") {
            return Err(Error::Usage(format!(
                "key file {} must not end in .json (that name is for the state file)",
                key_file.display()
            )));
        }
        Ok(key_file.with_extension("json"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_limited(path, MAX_STATE_FILE)?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Usage(format!(
                "{} is not a kyukit-field state file: {e}",
                path.display()
            ))
        })
    }

    /// Writes the state with mode 0600, atomically (a new file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Usage(format!("cannot encode the state: {e}")))?;
        json.push(b'\n');
        let tmp = temp_sibling(path)?;
        write_new_private_file(&tmp, &json)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }

    /// A client for this state: its server, key, device id and session.
    pub fn client(&self) -> Result<Client> {
        let key = DeviceKey::load(&self.key_file)?;
        let mut c = Client::new(&self.server, key)?.with_device_id(self.device_id.clone());
        c.set_session(self.session.clone());
        Ok(c)
    }
}

/// A fresh temporary path beside `path` (`NAME.tmp-<12 hex>`), to write into and rename over it.
pub(crate) fn temp_sibling(path: &Path) -> Result<std::path::PathBuf> {
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| Error::Random(e.to_string()))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} is not a file path", path.display())))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(
        ".tmp-{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let tmp = path.with_file_name(tmp_name);
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_0600_and_replace() {
        let dir = std::env::temp_dir().join(format!("kyukit-field-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("device.pem");
        DeviceKey::generate().unwrap().save(&key_file).unwrap();
        let path = State::default_path(&key_file).unwrap();
        assert_eq!(path, dir.join("device.json"));
        assert!(State::default_path(&dir.join("x.json")).is_err());
        let mut st = State {
            server: "http://127.0.0.1:8080".into(),
            device_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            key_file: key_file.clone(),
            facility_id: Some("f1".into()),
            label: None,
            session: None,
            trust_list_key: None,
        };
        st.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), st);
        st.session = Some("secret-token".into());
        st.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), st);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{st:?}").contains("secret-token"));
        let c = st.client().unwrap();
        assert_eq!(c.session(), Some("secret-token"));
        assert_eq!(c.device_id(), Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0"));
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
