//! Schemas as the protocol carries them.

use crate::plugin::proto::tfplugin5 as pb;
use crate::plugin::schema::{Block, Schema};

/// The protocol form of a schema (descriptions as markdown).
pub fn schema_to_proto(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_proto(&s.block)),
    }
}

fn block_to_proto(b: &Block) -> pb::schema::Block {
    use crate::plugin::schema::Nesting;
    use pb::schema::nested_block::NestingMode;
    pb::schema::Block {
        version: 0,
        attributes: b
            .attributes
            .iter()
            .map(|a| pb::schema::Attribute {
                name: a.name.clone(),
                r#type: a.ty.to_json().into_bytes(),
                description: a.description.clone(),
                required: a.required,
                optional: a.optional,
                computed: a.computed,
                sensitive: a.sensitive,
                description_kind: pb::StringKind::Markdown as i32,
                deprecated: a.deprecated,
                write_only: a.write_only,
                deprecation_message: a.deprecation_message.clone(),
            })
            .collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| {
                let (min_items, max_items) = nb.wire_items();
                pb::schema::NestedBlock {
                    type_name: nb.type_name.clone(),
                    block: Some(block_to_proto(&nb.block)),
                    nesting: match nb.nesting {
                        Nesting::Single => NestingMode::Single,
                        Nesting::List => NestingMode::List,
                        Nesting::Set => NestingMode::Set,
                        Nesting::Map => NestingMode::Map,
                        Nesting::Group => NestingMode::Group,
                    } as i32,
                    min_items,
                    max_items,
                }
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: b.deprecated,
        deprecation_message: b.deprecation_message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, NestedBlock};

    #[test]
    fn deprecation_messages_reach_the_wire() {
        let s = Schema::new(
            Block::new()
                .deprecated("Use `hostup_vps_backup` instead.")
                .attribute(Attribute::string("old").optional().deprecated("Use `new`."))
                .attribute(Attribute::string("new").optional())
                .block(NestedBlock::single(
                    "legacy",
                    Block::new().deprecated("Set `new` instead."),
                )),
        );
        let block = schema_to_proto(&s).block.expect("block");
        assert!(block.deprecated);
        assert_eq!(
            block.deprecation_message,
            "Use `hostup_vps_backup` instead."
        );
        let old = &block.attributes[0];
        assert!(old.deprecated);
        assert_eq!(old.deprecation_message, "Use `new`.");
        let new = &block.attributes[1];
        assert!(!new.deprecated);
        assert_eq!(new.deprecation_message, "");
        let legacy = block.block_types[0].block.as_ref().expect("nested block");
        assert!(legacy.deprecated);
        assert_eq!(legacy.deprecation_message, "Set `new` instead.");
    }

    #[test]
    fn write_only_reaches_the_wire() {
        let s = Schema::new(
            Block::new()
                .attribute(Attribute::string("password").optional().write_only())
                .attribute(Attribute::string("name").required()),
        );
        let block = schema_to_proto(&s).block.expect("block");
        assert!(block.attributes[0].write_only);
        assert!(!block.attributes[1].write_only);
    }
}
