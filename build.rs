//! Compiles `proto/databuild.proto` with protox, a pure-Rust protobuf compiler, so no system `protoc`
//! is needed; pbjson-build adds the proto3 JSON mapping (both field-name spellings, 64-bit ints as
//! numbers or strings) used by the JSON-lines log format.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/databuild.proto");
    let descriptors = protox::compile(["databuild.proto"], ["proto"])?;
    let descriptor_bytes = descriptors.encode_to_vec();
    prost_build::Config::new().compile_fds(descriptors)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .ignore_unknown_fields()
        // Write DESIGN's spelling (`event_id`); reading accepts lowerCamelCase too.
        .preserve_proto_field_names()
        .build(&[".databuild.v1"])?;
    Ok(())
}
