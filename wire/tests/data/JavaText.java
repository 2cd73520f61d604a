// Writes java_text.txt, the reference texts for wire/tests/datatable_text.rs:
// Float.toString, Double.toString and the SDK's date text (GregorianCalendar, UTC) for
// a fixed, seeded set of values. Run with a JDK 19 or later (the shortest-digit
// Float/Double.toString of the current Java specification):
//
//   java JavaText.java > java_text.txt
//
// Lines: "F <float bits hex> <text>", "D <double bits hex> <text>", "T <ms> <text>".
import java.util.*;

public class JavaText {
    static StringBuilder out = new StringBuilder();

    static void f(float x) {
        out.append("F ").append(Integer.toHexString(Float.floatToRawIntBits(x))).append(' ')
           .append(Float.toString(x)).append('\n');
    }

    static void d(double x) {
        out.append("D ").append(Long.toHexString(Double.doubleToRawLongBits(x))).append(' ')
           .append(Double.toString(x)).append('\n');
    }

    static void t(long ms) {
        GregorianCalendar gc = new GregorianCalendar(TimeZone.getTimeZone("UTC"));
        gc.setTime(new Date(ms));
        String year = String.valueOf(gc.get(Calendar.YEAR));
        while (year.length() < 4) year = "0" + year;
        out.append("T ").append(ms).append(' ').append(year).append(String.format("-%02d-%02d %02d:%02d:%02d.%03d",
            gc.get(Calendar.MONTH) + 1, gc.get(Calendar.DAY_OF_MONTH), gc.get(Calendar.HOUR_OF_DAY),
            gc.get(Calendar.MINUTE), gc.get(Calendar.SECOND), gc.get(Calendar.MILLISECOND))).append('\n');
    }

    public static void main(String[] args) {
        Random r = new Random(20261121L);
        // Any bit pattern.
        for (int i = 0; i < 1000; i++) {
            f(Float.intBitsToFloat(r.nextInt()));
            d(Double.longBitsToDouble(r.nextLong()));
        }
        // Values a device sends: few digits, every scale.
        for (int i = 0; i < 1000; i++) {
            double x = (r.nextInt(2000001) - 1000000) / Math.pow(10, r.nextInt(16) - 4);
            d(x);
            f((float) x);
        }
        // Powers of ten and their neighbours, around the plain/scientific switch too.
        for (int e = -45; e <= 38; e++) {
            float x = Float.parseFloat("1e" + e);
            f(x); f(Math.nextUp(x)); f(Math.nextDown(x));
        }
        for (int e = -324; e <= 308; e += 3) {
            double x = Double.parseDouble("1e" + e);
            d(x); d(Math.nextUp(x)); d(Math.nextDown(x));
        }
        // Powers of two (integers and halves) and the smallest subnormals.
        for (int e = -30; e <= 80; e++) {
            d(Math.scalb(1.0, e)); d(Math.scalb(1.0, e) * 3); f(Math.scalb(1.0f, e)); f(Math.scalb(1.0f, e) * 7);
        }
        for (int b = 1; b <= 40; b++) {
            f(Float.intBitsToFloat(b));
            d(Double.longBitsToDouble(b));
        }
        float[] fs = {0f, -0f, 1.5f, 21.5f, 0.1f, 1e7f, 9999999f, 1e-3f, 0.00099999f, Float.MAX_VALUE,
            Float.MIN_NORMAL, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 3.4028235e38f, 16777216f, 16777217f};
        for (float x : fs) f(x);
        double[] ds = {0.0, -0.0, 2.25, 0.1, 0.3, 1e7, 9999999.999, 1e-3, 9.99e-4, 1e23, 8.41e21, 2e-3, Double.MAX_VALUE,
            Double.MIN_NORMAL, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 9007199254740993.0, 123456789012345678.0};
        for (double x : ds) d(x);
        // Dates: any instant of the 64-bit range, years 1-9999, around the Julian cutover.
        for (int i = 0; i < 300; i++) {
            t(r.nextLong());
            t(-62135769600000L + (long) (r.nextDouble() * 315537897600000.0));
            t(-12219292800000L + (long) ((r.nextDouble() - 0.5) * 864000000000.0));
        }
        long[] ts = {0L, -1L, 949406400000L, 1700000000123L, -12219292800000L, -12219292800001L,
            -62135769600000L, -62135769600001L, Long.MAX_VALUE, Long.MIN_VALUE, 253402300799999L};
        for (long x : ts) t(x);
        System.out.print(out);
    }
}
