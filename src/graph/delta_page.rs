//! A delta page as it comes off the wire (GRAPH.md B.3). Most of a first round's bytes are
//! `members@delta` entries, a million of them in a large tenant, each
//! `{"@odata.type": "#microsoft.graph.user", "id": "…"}`. Read as JSON maps, each would cost a
//! map, two keys and two strings; read here, an entry is its id and whether it was removed.
//! Everything else of an item stays JSON. Nothing is judged here: a page or an entry of another
//! shape is kept as "not what a delta page holds", and the round reports it.

use std::fmt;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

/// Consumes whatever a visitor was not asked to read, so that the JSON around it still parses.
macro_rules! other_values {
    ($out:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok($out)
        }
    };
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// One page: its items and its links, as far as the body had them.
#[derive(Debug, Default)]
pub struct DeltaPage {
    /// `value`; `None` when the body is not an object or `value` is not an array.
    pub items: Option<Vec<DeltaItem>>,
    pub next_link: Option<Value>,
    pub delta_link: Option<Value>,
}

/// A page as it arrives: its bytes, and the links read from the JSON before its items (where
/// Graph puts them), so that the next page can be asked for before this one is read.
pub struct Skimmed {
    pub bytes: bytes::Bytes,
    pub links: PageLinks,
}

/// What a page says before its items.
#[derive(Debug, Default, PartialEq)]
pub struct PageLinks {
    pub next_link: Option<Value>,
    pub delta_link: Option<Value>,
    /// The items were reached: links after them, if any, are not known yet.
    pub items_follow: bool,
}

impl Skimmed {
    /// Reads the links before the items. An error is a body that is not JSON up to there.
    fn skim(bytes: bytes::Bytes) -> Result<Self, serde_json::Error> {
        let mut links = PageLinks::default();
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match (
            LinksSeed(&mut links).deserialize(&mut de),
            links.items_follow,
        ) {
            // Stopped at the items on purpose.
            (_, true) => {}
            (Ok(()), false) => de.end()?,
            (Err(e), false) => return Err(e),
        }
        Ok(Skimmed { bytes, links })
    }

    /// The whole page.
    pub fn read(&self) -> Result<DeltaPage, serde_json::Error> {
        serde_json::from_slice(&self.bytes)
    }
}

impl super::client::ResponseBody for Skimmed {
    fn empty() -> Self {
        Skimmed {
            bytes: bytes::Bytes::new(),
            links: PageLinks::default(),
        }
    }
    fn read(bytes: bytes::Bytes) -> Result<Self, serde_json::Error> {
        Skimmed::skim(bytes)
    }
}

/// Reads a page's top-level keys into [`PageLinks`] up to `value`, and stops there.
struct LinksSeed<'a>(&'a mut PageLinks);

impl<'de> serde::de::DeserializeSeed<'de> for LinksSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LinksSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a delta page")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Value => {
                    self.0.items_follow = true;
                    // Not an error of the page: the caller stops reading here.
                    return Err(serde::de::Error::custom("stopped at the items"));
                }
                Key::NextLink => self.0.next_link = Some(map.next_value()?),
                Key::DeltaLink => self.0.delta_link = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        drain_seq(seq)
    }
    other_values!(());
}

/// One item of a page.
#[derive(Debug, PartialEq)]
pub enum DeltaItem {
    /// An object (or its removal): its properties, and its `{link}@delta` arrays by link name in
    /// page order.
    Object {
        props: Map<String, Value>,
        links: Vec<(String, LinkEnds)>,
    },
    /// Anything but a JSON object.
    Other,
}

/// The value of a `{link}@delta` key.
#[derive(Debug, PartialEq)]
pub enum LinkEnds {
    List(Vec<DeltaEnd>),
    /// Not an array.
    NotAList,
}

/// One entry of a `{link}@delta` array.
#[derive(Debug, PartialEq)]
pub struct DeltaEnd {
    /// `None` when the entry has no string `id` (or is not an object).
    pub id: Option<String>,
    /// The entry carries `@removed`.
    pub removed: bool,
}

impl<'de> Deserialize<'de> for DeltaPage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PageVisitor;
        impl<'de> Visitor<'de> for PageVisitor {
            type Value = DeltaPage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a delta page")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeltaPage, A::Error> {
                let mut page = DeltaPage::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Value => page.items = map.next_value::<ArrayOf<DeltaItem>>()?.0,
                        Key::NextLink => page.next_link = Some(map.next_value()?),
                        Key::DeltaLink => page.delta_link = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(page)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<DeltaPage, A::Error> {
                drain_seq(seq).map(|()| DeltaPage::default())
            }
            other_values!(DeltaPage::default());
        }
        d.deserialize_any(PageVisitor)
    }
}

/// A value that is an array of `T`s, or `None` when it is not an array (read past).
struct ArrayOf<T>(Option<Vec<T>>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ArrayOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ArrayVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ArrayVisitor<T> {
            type Value = ArrayOf<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ArrayOf<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(ArrayOf(Some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ArrayOf<T>, A::Error> {
                drain_map(map).map(|()| ArrayOf(None))
            }
            other_values!(ArrayOf(None));
        }
        d.deserialize_any(ArrayVisitor(std::marker::PhantomData))
    }
}

impl<'de> Deserialize<'de> for DeltaItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = DeltaItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a delta item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeltaItem, A::Error> {
                let mut props = Map::new();
                let mut links = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.strip_suffix("@delta") {
                        Some(link) => links.push((link.to_string(), map.next_value()?)),
                        None => {
                            props.insert(key, map.next_value()?);
                        }
                    }
                }
                Ok(DeltaItem::Object { props, links })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<DeltaItem, A::Error> {
                drain_seq(seq).map(|()| DeltaItem::Other)
            }
            other_values!(DeltaItem::Other);
        }
        d.deserialize_any(ItemVisitor)
    }
}

impl<'de> Deserialize<'de> for LinkEnds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match ArrayOf::deserialize(d)?.0 {
            Some(ends) => LinkEnds::List(ends),
            None => LinkEnds::NotAList,
        })
    }
}

impl<'de> Deserialize<'de> for DeltaEnd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const NONE: DeltaEnd = DeltaEnd {
            id: None,
            removed: false,
        };
        struct EndVisitor;
        impl<'de> Visitor<'de> for EndVisitor {
            type Value = DeltaEnd;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a link entry")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeltaEnd, A::Error> {
                let mut end = NONE;
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Id => {
                            end.id = match map.next_value::<Value>()? {
                                Value::String(id) => Some(id),
                                _ => None,
                            }
                        }
                        Key::Removed => {
                            map.next_value::<IgnoredAny>()?;
                            end.removed = true;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(end)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<DeltaEnd, A::Error> {
                drain_seq(seq).map(|()| NONE)
            }
            other_values!(NONE);
        }
        d.deserialize_any(EndVisitor)
    }
}

/// The keys these readers look for, told apart without allocating.
enum Key {
    Value,
    NextLink,
    DeltaLink,
    Id,
    Removed,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "value" => Key::Value,
                    "@odata.nextLink" => Key::NextLink,
                    "@odata.deltaLink" => Key::DeltaLink,
                    "id" => Key::Id,
                    "@removed" => Key::Removed,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn end(id: &str, removed: bool) -> DeltaEnd {
        DeltaEnd {
            id: Some(id.into()),
            removed,
        }
    }

    fn no_id() -> DeltaEnd {
        DeltaEnd {
            id: None,
            removed: false,
        }
    }

    #[test]
    fn a_page_reads_items_links_and_entries() {
        let text = r##"{
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups",
            "@odata.nextLink": "https://graph.microsoft.com/v1.0/groups/delta?$skiptoken=x",
            "value": [
                {"id": "g1", "displayName": "Sales", "nested": {"id": "not an end"},
                 "members@delta": [
                    {"@odata.type": "#microsoft.graph.user", "id": "u1"},
                    {"@odata.type": "#microsoft.graph.user", "id": "u2", "@removed": {"reason": "deleted"}},
                    {"@odata.type": "#microsoft.graph.user"},
                    {"id": 7},
                    "u3"],
                 "owners@delta": {"id": "o1"}},
                {"id": "g2", "@removed": {"reason": "changed"}},
                42
            ]
        }"##;
        let page: DeltaPage = serde_json::from_str(text).unwrap();
        assert_eq!(
            page.next_link,
            Some(json!(
                "https://graph.microsoft.com/v1.0/groups/delta?$skiptoken=x"
            ))
        );
        assert_eq!(page.delta_link, None);
        let items = page.items.unwrap();
        assert_eq!(
            items[0],
            DeltaItem::Object {
                props: json!({"id": "g1", "displayName": "Sales", "nested": {"id": "not an end"}})
                    .as_object()
                    .unwrap()
                    .clone(),
                links: vec![
                    (
                        "members".into(),
                        LinkEnds::List(vec![
                            end("u1", false),
                            end("u2", true),
                            no_id(),
                            no_id(),
                            no_id(),
                        ])
                    ),
                    ("owners".into(), LinkEnds::NotAList),
                ],
            }
        );
        let DeltaItem::Object { props, links } = &items[1] else {
            panic!("{:?}", items[1]);
        };
        assert_eq!(props["@removed"], json!({"reason": "changed"}));
        assert!(links.is_empty());
        assert_eq!(items[2], DeltaItem::Other);
    }

    #[test]
    fn a_body_of_another_shape_has_no_items() {
        for text in [
            r#"{"value": {"id": "x"}, "@odata.deltaLink": "d"}"#,
            r#"{"@odata.deltaLink": "d"}"#,
            r#"[{"value": []}]"#,
            r#""value""#,
            "null",
        ] {
            let page: DeltaPage = serde_json::from_str(text).unwrap();
            assert!(page.items.is_none(), "{text}");
        }
        let page: DeltaPage =
            serde_json::from_str(r#"{"value": [], "@odata.deltaLink": 3}"#).unwrap();
        assert_eq!(page.items, Some(Vec::new()));
        assert_eq!(page.delta_link, Some(json!(3)));
        assert!(serde_json::from_str::<DeltaPage>(r#"{"value": [}"#).is_err());
    }

    #[test]
    fn skimming_reads_the_links_before_the_items() {
        let skim = |text: &str| Skimmed::skim(bytes::Bytes::from(text.to_string()));
        let links = skim(r#"{"@odata.context": "c", "@odata.nextLink": "n", "value": [{"#)
            .unwrap()
            .links;
        assert_eq!(
            links,
            PageLinks {
                next_link: Some(json!("n")),
                delta_link: None,
                items_follow: true,
            }
        );
        // Links after the items are not known from a skim.
        let links = skim(r#"{"value": [], "@odata.deltaLink": "d"}"#)
            .unwrap()
            .links;
        assert_eq!((links.delta_link, links.items_follow), (None, true));
        // A page without items is read to its end.
        let links = skim(r#"{"@odata.deltaLink": "d"}"#).unwrap().links;
        assert_eq!(
            (links.delta_link, links.items_follow),
            (Some(json!("d")), false)
        );
        for broken in ["<html>", r#"{"@odata.nextLink": "#, r#"{"a": 1} x"#] {
            assert!(skim(broken).is_err(), "{broken}");
        }
        let skimmed = skim(r#"{"@odata.nextLink": "n", "value": [{"id": "u1"}]}"#).unwrap();
        assert_eq!(skimmed.read().unwrap().items.unwrap().len(), 1);
    }

    #[test]
    fn a_page_read_from_a_json_value_is_the_same() {
        let v = json!({"value": [{"id": "g1", "members@delta": [{"id": "u1", "@removed": null}]}]});
        let page = DeltaPage::deserialize(v).unwrap();
        assert_eq!(
            page.items.unwrap()[0],
            DeltaItem::Object {
                props: json!({"id": "g1"}).as_object().unwrap().clone(),
                links: vec![("members".into(), LinkEnds::List(vec![end("u1", true)]))],
            }
        );
    }
}
