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
                deprecation_message: String::new(),
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
        deprecation_message: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::Attribute;

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
