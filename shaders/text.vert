#version 330 core
// Glyph quads in framebuffer pixels (y down) -> clip space.
layout(location = 0) in vec2 pos;
layout(location = 1) in vec2 uv;
uniform vec2 fb_size;
out vec2 tc;

void main()
{
    tc = uv;
    gl_Position = vec4(pos.x / fb_size.x * 2.0 - 1.0,
                       1.0 - pos.y / fb_size.y * 2.0, 0.0, 1.0);
}
