#version 330 core
// A quad covering the viewport; the fragment shader maps each screen pixel
// back into the image, so no per-vertex texture coordinates are needed.
const vec2 corners[4] = vec2[4](vec2(-1.0, -1.0), vec2(1.0, -1.0),
                                vec2(-1.0, 1.0), vec2(1.0, 1.0));

void main()
{
    gl_Position = vec4(corners[gl_VertexID], 0.0, 1.0);
}
