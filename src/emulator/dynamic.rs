//! Dynamic groups: a group whose `groupTypes` holds `DynamicMembership` and whose
//! `membershipRuleProcessingState` is `On` has exactly the users its `membershipRule` matches
//! (resources/group.md @0061138f; rule syntax: entra-docs
//! docs/identity/users/groups-dynamic-membership.md). Graph recomputes membership in the
//! background; the emulator does it at once after every change that can move a user in or out
//! (a user written, a rule written, a sync), through the ordinary logged link changes, so delta
//! queries see it. The rule language covered is the common part: `user.<property> -op value`
//! with `-eq -ne -startsWith -notStartsWith -contains -notContains -in -notIn`, strings, booleans
//! and `["…"]` lists, `-and`, `-or`, `-not` and parentheses. A rule outside it is left alone: the
//! group keeps the members it has.

use serde_json::{Map, Value};

use super::model::model;
use super::state::Tenant;

/// A parsed membership rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    Test {
        property: String,
        op: Op,
        value: Value,
    },
    Not(Box<Rule>),
    And(Box<Rule>, Box<Rule>),
    Or(Box<Rule>, Box<Rule>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    StartsWith,
    NotStartsWith,
    Contains,
    NotContains,
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Str(String),
    List(Vec<String>),
}

fn tokens(text: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            '"' => {
                chars.next();
                out.push(Token::Str(quoted(&mut chars)?));
            }
            '[' => {
                chars.next();
                let mut items = Vec::new();
                loop {
                    match chars.next()? {
                        '"' => items.push(quoted(&mut chars)?),
                        ']' => break,
                        c if c == ',' || c.is_whitespace() => {}
                        _ => return None,
                    }
                }
                out.push(Token::List(items));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Some(out)
}

fn quoted(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<String> {
    let mut s = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(s),
            c => s.push(c),
        }
    }
}

/// Parses a membership rule; `None` when it is outside the covered language.
pub(crate) fn parse(text: &str) -> Option<Rule> {
    let toks = tokens(text)?;
    let mut pos = 0;
    let rule = parse_or(&toks, &mut pos)?;
    (pos == toks.len()).then_some(rule)
}

fn word_is(t: Option<&Token>, w: &str) -> bool {
    matches!(t, Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
}

fn parse_or(t: &[Token], pos: &mut usize) -> Option<Rule> {
    let mut left = parse_and(t, pos)?;
    while word_is(t.get(*pos), "-or") {
        *pos += 1;
        let right = parse_and(t, pos)?;
        left = Rule::Or(Box::new(left), Box::new(right));
    }
    Some(left)
}

fn parse_and(t: &[Token], pos: &mut usize) -> Option<Rule> {
    let mut left = parse_unary(t, pos)?;
    while word_is(t.get(*pos), "-and") {
        *pos += 1;
        let right = parse_unary(t, pos)?;
        left = Rule::And(Box::new(left), Box::new(right));
    }
    Some(left)
}

fn parse_unary(t: &[Token], pos: &mut usize) -> Option<Rule> {
    if word_is(t.get(*pos), "-not") {
        *pos += 1;
        return Some(Rule::Not(Box::new(parse_unary(t, pos)?)));
    }
    if t.get(*pos) == Some(&Token::Open) {
        *pos += 1;
        let inner = parse_or(t, pos)?;
        if t.get(*pos) != Some(&Token::Close) {
            return None;
        }
        *pos += 1;
        return Some(inner);
    }
    let Some(Token::Word(lhs)) = t.get(*pos) else {
        return None;
    };
    let property = lhs
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("user."))
        .map(|_| lhs[5..].to_string())?;
    let Some(Token::Word(op)) = t.get(*pos + 1) else {
        return None;
    };
    let op = match op.to_ascii_lowercase().as_str() {
        "-eq" => Op::Eq,
        "-ne" => Op::Ne,
        "-startswith" => Op::StartsWith,
        "-notstartswith" => Op::NotStartsWith,
        "-contains" => Op::Contains,
        "-notcontains" => Op::NotContains,
        "-in" => Op::In,
        "-notin" => Op::NotIn,
        _ => return None,
    };
    let value = match t.get(*pos + 2)? {
        Token::Str(s) => Value::String(s.clone()),
        Token::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        Token::Word(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
        Token::Word(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
        Token::Word(w) if w.eq_ignore_ascii_case("null") => Value::Null,
        _ => return None,
    };
    *pos += 3;
    Some(Rule::Test {
        property,
        op,
        value,
    })
}

impl Rule {
    /// Whether a user with these properties matches (string comparisons ignore case, as
    /// Entra's do).
    pub fn matches(&self, user: &Map<String, Value>) -> bool {
        match self {
            Rule::Not(r) => !r.matches(user),
            Rule::And(a, b) => a.matches(user) && b.matches(user),
            Rule::Or(a, b) => a.matches(user) || b.matches(user),
            Rule::Test {
                property,
                op,
                value,
            } => {
                // Rules name properties in any case; the exact spelling is the quick look-up.
                let actual = user
                    .get(property)
                    .or_else(|| {
                        user.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(property))
                            .map(|(_, v)| v)
                    })
                    .unwrap_or(&Value::Null);
                test(actual, *op, value)
            }
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn test(actual: &Value, op: Op, expected: &Value) -> bool {
    let a = text(actual);
    let e = text(expected);
    let list = || -> Vec<String> {
        expected
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect()
    };
    match op {
        Op::Eq => a == e,
        Op::Ne => a != e,
        Op::StartsWith => matches!((&a, &e), (Some(a), Some(e)) if a.starts_with(e.as_str())),
        Op::NotStartsWith => !test(actual, Op::StartsWith, expected),
        Op::Contains => matches!((&a, &e), (Some(a), Some(e)) if a.contains(e.as_str())),
        Op::NotContains => !test(actual, Op::Contains, expected),
        Op::In => a.is_some_and(|a| list().contains(&a)),
        Op::NotIn => !test(actual, Op::In, expected),
    }
}

/// The rule of a group whose membership is computed now, if any.
fn active_rule(props: &Map<String, Value>) -> Option<Rule> {
    let dynamic = props
        .get("groupTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
    let on = props
        .get("membershipRuleProcessingState")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("on"));
    if !dynamic || !on {
        return None;
    }
    parse(props.get("membershipRule")?.as_str()?)
}

struct Kinds {
    users: usize,
    groups: usize,
    members: usize,
}

fn kinds() -> Option<Kinds> {
    let m = model();
    let users = m.collection("users")?;
    let groups = m.collection("groups")?;
    let members = m.collections[groups].link("members")?;
    Some(Kinds {
        users,
        groups,
        members,
    })
}

/// Makes a dynamic group's members exactly the live users its rule matches.
pub(crate) fn recompute_group(t: &mut Tenant, group: u32) {
    let Some(k) = kinds() else { return };
    let Some(rule) = t.entry(group).and_then(|e| active_rule(&e.props)) else {
        return;
    };
    let want: std::collections::BTreeSet<u32> = t
        .live(k.users)
        .values()
        .copied()
        .filter(|s| t.entry(*s).is_some_and(|e| rule.matches(&e.props)))
        .collect();
    let have = t
        .entry(group)
        .map(|e| e.links[k.members].clone())
        .unwrap_or_default();
    for gone in have.difference(&want) {
        t.remove_link(group, k.members, *gone);
    }
    for new in want.difference(&have) {
        t.add_link(group, k.members, *new);
    }
}

/// Moves one user in or out of every dynamic group after its properties changed.
pub(crate) fn user_changed(t: &mut Tenant, user: u32) {
    let Some(k) = kinds() else { return };
    let Some(props) = t.entry(user).map(|e| e.props.clone()) else {
        return;
    };
    let live = t.is_live(user);
    let groups: Vec<(u32, Rule)> = t
        .live(k.groups)
        .values()
        .filter_map(|g| Some((*g, active_rule(&t.entry(*g)?.props)?)))
        .collect();
    for (g, rule) in groups {
        if live && rule.matches(&props) {
            t.add_link(g, k.members, user);
        } else {
            t.remove_link(g, k.members, user);
        }
    }
}

/// After any write to an object: a user may move between dynamic groups, a group's rule or
/// processing state may have changed.
pub(crate) fn after_write(t: &mut Tenant, slot: u32) {
    let Some(k) = kinds() else { return };
    match t.entry(slot).map(|e| e.kind as usize) {
        Some(kind) if kind == k.users => user_changed(t, slot),
        Some(kind) if kind == k.groups => recompute_group(t, slot),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::emulator::tests::props as user;

    #[test]
    fn rules_parse_and_match_like_entra() {
        let sales = user(
            json!({"department": "Sales", "jobTitle": "Sales Manager", "accountEnabled": true, "userType": "Member"}),
        );
        let eng = user(
            json!({"department": "Engineering", "jobTitle": "Software Engineer", "userType": "Member"}),
        );
        let cases = [
            (r#"(user.department -eq "Sales")"#, true, false),
            (r#"user.department -eq "sales""#, true, false),
            (r#"(user.jobTitle -contains "Engineer")"#, false, true),
            (
                r#"(user.jobTitle -startsWith "Sales") -and (user.accountEnabled -eq true)"#,
                true,
                false,
            ),
            (
                r#"(user.department -in ["Sales","Engineering"]) -and -not (user.jobTitle -contains "Manager")"#,
                false,
                true,
            ),
            (
                r#"(user.department -eq "Legal") -or (user.userType -eq "Member")"#,
                true,
                true,
            ),
            (r#"(user.department -ne "Sales")"#, false, true),
        ];
        for (text, s, e) in cases {
            let r = parse(text).unwrap_or_else(|| panic!("parses: {text}"));
            assert_eq!((r.matches(&sales), r.matches(&eng)), (s, e), "{text}");
        }
        for bad in [
            r#"(device.deviceOSType -eq "Windows")"#,
            r#"(user.department -eq "Sales""#,
            r#"user.department -like "S*""#,
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn membership_follows_the_rule_and_pauses() {
        let m = model();
        let (users, groups) = (
            m.collection("users").unwrap(),
            m.collection("groups").unwrap(),
        );
        let members = m.collections[groups].link("members").unwrap();
        let mut t = Tenant::new();
        let a = t.insert(users, "a".into(), user(json!({"department": "Sales"})));
        let b = t.insert(users, "b".into(), user(json!({"department": "IT"})));
        let g = t.insert(
            groups,
            "g".into(),
            user(json!({"groupTypes": ["DynamicMembership"], "membershipRule": "(user.department -eq \"Sales\")", "membershipRuleProcessingState": "On"})),
        );
        recompute_group(&mut t, g);
        assert_eq!(
            t.entry(g).unwrap().links[members]
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [a]
        );
        t.set_props(b, vec![("department".into(), json!("Sales"))]);
        after_write(&mut t, b);
        assert!(t.entry(g).unwrap().links[members].contains(&b));
        let logged = t.changes.links.len();
        assert!(logged >= 2, "membership changes are logged link changes");
        // Paused: a change no longer moves anyone.
        t.set_props(
            g,
            vec![("membershipRuleProcessingState".into(), json!("Paused"))],
        );
        t.set_props(a, vec![("department".into(), json!("IT"))]);
        after_write(&mut t, a);
        assert!(t.entry(g).unwrap().links[members].contains(&a));
        assert_eq!(t.changes.links.len(), logged, "paused: nothing moves");
    }
}
