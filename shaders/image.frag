#version 330 core
// One DICOM frame from stored values to display grey/colour (PS3.3 C.11):
// stored value -> modality LUT or rescale -> VOI window or LUT ->
// MONOCHROME1 / user inversion; palette and YBR_FULL to RGB. The texture
// holds the stored values themselves (unsigned integers; signed data with
// an offset), so every step is exact and happens here.

uniform usampler2D img;     // stored values; .r (grey, index) or .rgb
// LUTs are laid out 4096 entries per texture row (a 16-bit LUT is longer
// than a row may be); the palette's red, green and blue follow each other
uniform usampler2D mlut;    // modality LUT, if use_mlut
uniform usampler2D vlut;    // VOI LUT, if voi == 3
uniform usampler2D pal;     // palette

uniform mat3 screen_to_image; // viewport pixel (y down) -> image pixel
uniform vec2 viewport_origin; // window coordinates of the viewport
uniform float viewport_height;
uniform ivec2 size;           // image columns, rows
uniform int linear;           // 1: bilinear, 0: nearest
uniform int photometric;      // 0 MONO2, 1 MONO1, 2 RGB, 3 YBR_FULL, 4 PALETTE
uniform float offset;         // added at upload (signed data), taken off here
uniform float colour_max;     // 255 or 65535 (RGB, YBR_FULL)

uniform float slope, intercept;
uniform int use_mlut;
uniform int mlut_first, mlut_count;

uniform int voi;              // 0 LINEAR, 1 LINEAR_EXACT, 2 SIGMOID, 3 LUT
uniform float center, width;
uniform int vlut_first, vlut_count;
uniform float vlut_max;       // 2^bits - 1 of the VOI LUT entries

uniform int pal_first, pal_count, pal_rows;
uniform float pal_max;        // 2^bits - 1 of the palette entries
uniform int invert;           // user inversion

out vec4 color;

const int LUT_W = 4096;

float entry(usampler2D t, int i, int row0)
{
    return float(texelFetch(t, ivec2(i % LUT_W, row0 + i / LUT_W), 0).r);
}

// values below the first mapped one take the first entry, above the last
// the last (PS3.3 C.11.1.1)
float lut(usampler2D t, int first, int count, float x)
{
    return entry(t, clamp(int(floor(x + 0.5)) - first, 0, count - 1), 0);
}

// the modality value of one texel (grey images)
float modality(ivec2 p)
{
    float s = float(texelFetch(img, p, 0).r) - offset;
    return use_mlut == 1 ? lut(mlut, mlut_first, mlut_count, s)
                         : s * slope + intercept;
}

vec3 texel_colour(ivec2 p)
{
    vec3 v = vec3(texelFetch(img, p, 0).rgb) / colour_max;
    if (photometric == 3) { // YBR_FULL (PS3.3 C.7.6.3.1.2)
        float y = v.r, cb = v.g - 0.5, cr = v.b - 0.5;
        v = clamp(vec3(y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr,
                       y + 1.772 * cb), 0.0, 1.0);
    }
    return v;
}

vec3 palette(ivec2 p)
{
    int s = int(texelFetch(img, p, 0).r);
    int i = clamp(s - pal_first, 0, pal_count - 1);
    return vec3(entry(pal, i, 0), entry(pal, i, pal_rows),
                entry(pal, i, 2 * pal_rows)) / pal_max;
}

// VOI (PS3.3 C.11.2.1.2): modality value -> 0..1
float window(float x)
{
    if (voi == 3)
        return lut(vlut, vlut_first, vlut_count, x) / vlut_max;
    if (voi == 2)
        return 1.0 / (1.0 + exp(-4.0 * (x - center) / width));
    if (voi == 1) {
        if (x <= center - width / 2.0)
            return 0.0;
        if (x > center + width / 2.0)
            return 1.0;
        return (x - center) / width + 0.5;
    }
    if (x <= center - 0.5 - (width - 1.0) / 2.0)
        return 0.0;
    if (x > center - 0.5 + (width - 1.0) / 2.0)
        return 1.0;
    return (x - (center - 0.5)) / max(width - 1.0, 1.0) + 0.5;
}

vec3 shade(ivec2 p)
{
    if (photometric == 2 || photometric == 3)
        return texel_colour(p);
    if (photometric == 4)
        return palette(p);
    return vec3(window(modality(p)));
}

void main()
{
    vec2 s = vec2(gl_FragCoord.x - viewport_origin.x,
                  viewport_height - (gl_FragCoord.y - viewport_origin.y));
    vec2 q = (screen_to_image * vec3(s, 1.0)).xy;
    if (q.x < 0.0 || q.y < 0.0 || q.x >= float(size.x) || q.y >= float(size.y)) {
        color = vec4(0.0, 0.0, 0.0, 1.0);
        return;
    }
    vec3 c;
    bool grey = photometric < 2;
    if (linear == 1) {
        // interpolate the modality values (grey) or colours, then window:
        // windowing interpolated texels would brighten edges
        vec2 f = q - 0.5;
        ivec2 a = ivec2(floor(f));
        vec2 t = f - vec2(a);
        ivec2 lo = clamp(a, ivec2(0), size - 1);
        ivec2 hi = clamp(a + 1, ivec2(0), size - 1);
        if (grey) {
            float v = mix(mix(modality(ivec2(lo.x, lo.y)), modality(ivec2(hi.x, lo.y)), t.x),
                          mix(modality(ivec2(lo.x, hi.y)), modality(ivec2(hi.x, hi.y)), t.x),
                          t.y);
            c = vec3(window(v));
        } else {
            c = mix(mix(shade(ivec2(lo.x, lo.y)), shade(ivec2(hi.x, lo.y)), t.x),
                    mix(shade(ivec2(lo.x, hi.y)), shade(ivec2(hi.x, hi.y)), t.x), t.y);
        }
    } else {
        c = shade(ivec2(floor(q)));
    }
    if (grey && photometric == 1)
        c = 1.0 - c;
    if (invert == 1)
        c = 1.0 - c;
    color = vec4(c, 1.0);
}
