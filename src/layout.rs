//! Where each object's file lives in the repository: `<dir>/[<shard>/]<readable-name>.<id>.yaml`,
//! or a fixed path for singletons. The id is in the name so that two objects with one display
//! name never collide and a rename is a git rename; the shard (first two characters of the id)
//! keeps folders small in large tenants and never moves when an object is renamed.

use crate::schema::{self, KindSpec};

/// Longest readable part of a file name, in bytes.
const MAX_NAME: usize = 60;

/// The repository path of an object's file.
pub fn path_for(kind: &KindSpec, id: &str, name: &str) -> String {
    if let Some(file) = &kind.file {
        return file.clone();
    }
    let slug = slug(name);
    let safe_id = safe_component(id);
    if kind.shard {
        format!("{}/{}/{}.{}.yaml", kind.dir, shard(id), slug, safe_id)
    } else {
        format!("{}/{}.{}.yaml", kind.dir, slug, safe_id)
    }
}

/// The two-character folder for an id.
pub fn shard(id: &str) -> String {
    let mut s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(2)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    while s.len() < 2 {
        s.push('_');
    }
    s
}

/// A readable, portable file-name part: lower-case ASCII letters, digits and `.-_@`, other
/// characters folded to `-`; never a name Windows reserves (see [`avoid_reserved`]).
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_NAME));
    let mut dash = false;
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@') {
            out.push(c);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
        if out.len() >= MAX_NAME {
            break;
        }
    }
    let trimmed = out.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "_".to_string()
    } else {
        avoid_reserved(trimmed)
    }
}

/// Windows refuses files named CON, PRN, AUX, NUL, COM0–COM9 or LPT0–LPT9, with any extension
/// (the part before the first dot counts, in any case), so a repository holding one cannot be
/// cloned there. Such a part gets a `_` appended: `con.tosco` → `con_.tosco`.
pub fn avoid_reserved(name: &str) -> String {
    let (stem, rest) = match name.find('.') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    let upper = stem.to_ascii_uppercase();
    let reserved = matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (upper.len() == 4
            && (upper.starts_with("COM") || upper.starts_with("LPT"))
            && upper.as_bytes()[3].is_ascii_digit());
    if reserved {
        format!("{stem}_{rest}")
    } else {
        name.to_string()
    }
}

/// Ids are usually GUIDs; anything that could not stand in a file name is replaced.
pub fn safe_component(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The kind whose files live at this repository path, if any.
pub fn kind_for_path(path: &str) -> Option<&'static KindSpec> {
    if !path.ends_with(".yaml") {
        return None;
    }
    let kinds = schema::kinds();
    if let Some(k) = kinds.iter().find(|k| k.file.as_deref() == Some(path)) {
        return Some(k);
    }
    let (dir, _) = path.split_once('/')?;
    kinds.iter().find(|k| !k.singleton && k.dir == dir)
}

/// Whether a path is inside a folder or file that tenantgit manages.
pub fn is_managed_path(path: &str) -> bool {
    schema::kinds().iter().any(|k| match &k.file {
        Some(file) => path == file,
        None => path
            .strip_prefix(k.dir.as_str())
            .is_some_and(|rest| rest.starts_with('/')),
    })
}

/// The id part of a file name written by [`path_for`], when the id is file-name safe (GUIDs
/// are). Callers must confirm it against the file's `id:` before relying on it.
pub fn id_hint_from_path(kind: &KindSpec, path: &str) -> Option<String> {
    if kind.singleton {
        return Some(kind.kind.clone());
    }
    let file = path.rsplit('/').next()?;
    let stem = file.strip_suffix(".yaml")?;
    let (_, id) = stem.rsplit_once('.')?;
    Some(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let users = schema::kind("users").unwrap();
        assert_eq!(
            path_for(
                users,
                "3f2a9c1e-0000-4000-8000-000000000001",
                "Alice.Smith@Contoso.com"
            ),
            "users/3f/alice.smith@contoso.com.3f2a9c1e-0000-4000-8000-000000000001.yaml"
        );
        let amp = schema::kind("authenticationMethodsPolicy").unwrap();
        assert_eq!(
            path_for(amp, "authenticationMethodsPolicy", "x"),
            "policies/authenticationMethodsPolicy.yaml"
        );
        assert_eq!(
            kind_for_path("policies/authorizationPolicy.yaml")
                .unwrap()
                .kind,
            "authorizationPolicy"
        );
        assert_eq!(kind_for_path("users/3f/a.b.yaml").unwrap().kind, "users");
        assert!(kind_for_path("tenantgit.toml").is_none());
        assert_eq!(slug("  Sales & Marketing (EU)  "), "sales-marketing-eu");
        assert_eq!(slug("Zoë Ünïcode"), "zo-n-code");
        assert_eq!(slug("!!!"), "_");
        assert_eq!(
            id_hint_from_path(users, "users/3f/a.b@c.com.3f2a.yaml").unwrap(),
            "3f2a"
        );
    }

    #[test]
    fn no_windows_reserved_names() {
        for (name, want) in [
            ("CON", "con_"),
            ("nul", "nul_"),
            ("Aux", "aux_"),
            ("prn", "prn_"),
            ("COM1", "com1_"),
            ("com0", "com0_"),
            ("LPT9", "lpt9_"),
            ("con.tosco", "con_.tosco"),
            ("nul.example@contoso.com", "nul_.example@contoso.com"),
            ("Con (EU)", "con-eu"),
            ("console", "console"),
            ("com10", "com10"),
            ("comx", "comx"),
            ("lpt", "lpt"),
            ("my.con", "my.con"),
        ] {
            assert_eq!(slug(name), want, "{name}");
        }
        let groups = schema::kind("groups").unwrap();
        let path = path_for(groups, "0a000000-0000-4000-8000-000000000001", "AUX");
        assert_eq!(
            path,
            "groups/0a/aux_.0a000000-0000-4000-8000-000000000001.yaml"
        );
        // Every file name of the repository passes the check Windows makes.
        let file = path.rsplit('/').next().unwrap();
        assert_eq!(avoid_reserved(file), file);
    }
}
