#version 330 core
// One DICOM frame from stored values to display grey/colour (PS3.3 C.11):
// stored value -> modality LUT or rescale -> VOI window or LUT ->
// MONOCHROME1 / user inversion; palette and YBR_FULL to RGB. The texture
// holds the stored values themselves (unsigned integers; 8- and 16-bit
// signed data with an offset, 32-bit signed data as its bit pattern), so
// every step is exact (32-bit values up to 2^24) and happens here.
//
// The renderer compiles one variant per kind of image and view, defining
// PHOTOMETRIC (0 MONO2, 1 MONO1, 2 RGB, 3 YBR_FULL, 4 PALETTE), LINEAR
// (bilinear 1 / nearest 0), VOI (0 LINEAR, 1 LINEAR_EXACT, 2 SIGMOID,
// 3 LUT), USE_MLUT and OVERLAY (overlay planes) before this text: a software rasteriser (llvmpipe)
// runs every branch of a shader, so one shader for all cases was 5x slower.

uniform usampler2D img;     // stored values; .r (grey, index) or .rgb
// LUTs are laid out 4096 entries per texture row (a 16-bit LUT is longer
// than a row may be); the palette's red, green and blue follow each other
uniform usampler2D mlut;    // modality LUT (USE_MLUT)
uniform usampler2D vlut;    // VOI LUT (VOI == 3)
uniform usampler2D pal;     // palette (PHOTOMETRIC == 4)
uniform usampler2D ovl;     // overlay planes, 1 byte per image pixel (OVERLAY)

uniform mat3 screen_to_image; // viewport pixel (y down) -> image pixel
uniform vec2 viewport_origin; // window coordinates of the viewport
uniform float viewport_height;
uniform ivec2 size;           // image columns, rows
uniform float offset;         // added at upload (signed data), taken off here
uniform float signed32;       // 1: 32-bit two's complement texels (no offset)
uniform float colour_max;     // 2^bits - 1 (RGB, YBR_FULL)

uniform float slope, intercept;
uniform int mlut_first, mlut_count;

uniform float center, width;
uniform float step;           // LINEAR's unit: 1, or a slope below 1
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

#if PHOTOMETRIC < 2
// the modality value of one texel
float modality(ivec2 p)
{
    uint u = texelFetch(img, p, 0).r;
    // both readings, then the right one: cheaper on llvmpipe than a branch
    float s = mix(float(u), float(int(u)), signed32) - offset;
#if USE_MLUT
    return lut(mlut, mlut_first, mlut_count, s);
#else
    return s * slope + intercept;
#endif
}

// VOI (PS3.3 C.11.2.1.2): modality value -> 0..1
float window(float x)
{
#if VOI == 3
    return lut(vlut, vlut_first, vlut_count, x) / vlut_max;
#elif VOI == 2
    return 1.0 / (1.0 + exp(-4.0 * (x - center) / width));
#elif VOI == 1
    return clamp((x - center) / width + 0.5, 0.0, 1.0);
#else
    // LINEAR in steps of the values (1 for integers; see rnd_value_step)
    // needs a width of at least one step; a narrower one is LINEAR_EXACT
    float lin = (x - (center - 0.5 * step)) / max(width - step, 1e-9) + 0.5;
    float exact = (x - center) / width + 0.5;
    return clamp(width >= step ? lin : exact, 0.0, 1.0);
#endif
}
#endif

vec3 shade(ivec2 p)
{
#if PHOTOMETRIC == 4
    int s = int(texelFetch(img, p, 0).r);
    int i = clamp(s - pal_first, 0, pal_count - 1);
    return vec3(entry(pal, i, 0), entry(pal, i, pal_rows),
                entry(pal, i, 2 * pal_rows)) / pal_max;
#elif PHOTOMETRIC == 3
    // YBR_FULL (PS3.3 C.7.6.3.1.2)
    vec3 v = vec3(texelFetch(img, p, 0).rgb) / colour_max;
    float y = v.r, cb = v.g - 0.5, cr = v.b - 0.5;
    return clamp(vec3(y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr,
                      y + 1.772 * cb), 0.0, 1.0);
#elif PHOTOMETRIC == 2
    return vec3(texelFetch(img, p, 0).rgb) / colour_max;
#else
    return vec3(window(modality(p)));
#endif
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
#if LINEAR
    // interpolate the modality values (grey) or colours, then window:
    // windowing interpolated texels would brighten edges
    vec2 f = q - 0.5;
    ivec2 a = ivec2(floor(f));
    vec2 t = f - vec2(a);
    ivec2 lo = clamp(a, ivec2(0), size - 1);
    ivec2 hi = clamp(a + 1, ivec2(0), size - 1);
#if PHOTOMETRIC < 2
    float v = mix(mix(modality(ivec2(lo.x, lo.y)), modality(ivec2(hi.x, lo.y)), t.x),
                  mix(modality(ivec2(lo.x, hi.y)), modality(ivec2(hi.x, hi.y)), t.x),
                  t.y);
    c = vec3(window(v));
#else
    c = mix(mix(shade(ivec2(lo.x, lo.y)), shade(ivec2(hi.x, lo.y)), t.x),
            mix(shade(ivec2(lo.x, hi.y)), shade(ivec2(hi.x, hi.y)), t.x), t.y);
#endif
#else
    c = shade(ivec2(floor(q)));
#endif
#if PHOTOMETRIC == 1
    c = 1.0 - c;
#endif
    if (invert == 1)
        c = 1.0 - c;
#if OVERLAY
    // overlay planes (60xx) in white, at the image pixel under this one
    if (texelFetch(ovl, ivec2(floor(q)), 0).r != 0u)
        c = vec3(1.0);
#endif
    color = vec4(c, 1.0);
}
