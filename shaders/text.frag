#version 330 core
// Text and overlay shapes: the glyph atlas (R8 coverage) times a colour;
// solid shapes use a texel that is fully covered.
uniform sampler2D atlas;
uniform vec4 colour;
in vec2 tc;
out vec4 frag;

void main()
{
    frag = vec4(colour.rgb, colour.a * texture(atlas, tc).r);
}
