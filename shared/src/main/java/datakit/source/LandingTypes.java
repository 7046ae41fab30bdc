package datakit.source;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jooq.DSLContext;
import org.jooq.Record;

/**
 * Decides the bronze type of a source column so the load cannot fail and loses nothing:
 * <ul>
 *   <li>built-in types keep their type (with typmod), and travel as binary COPY;</li>
 *   <li>a domain lands as its base type (its checks belong to the source);</li>
 *   <li>enums, composites, ranges and base types defined by users or extensions (PostGIS, hstore,
 *       citext...), pseudo-types and object references ({@code regclass}...) land as {@code text},
 *       their text form: the warehouse may lack the type, and binary COPY carries type OIDs that
 *       differ between servers;</li>
 *   <li>built-in types that binary COPY cannot carry land as {@code text} too: those without binary
 *       input or output ({@code aclitem}), internal ones ({@code pg_node_tree}, {@code "char"}), and the
 *       vectors {@code int2vector} and {@code oidvector}, whose binary input refuses the empty vector
 *       their binary output writes ("invalid int2vector data");</li>
 *   <li>an array follows its element type ({@code mood[]} lands as {@code text[]}), keeping its
 *       dimensions and lower bounds.</li>
 * </ul>
 */
public final class LandingTypes {
    /** OIDs below this are assigned by initdb, so they name the same type on every server. */
    private static final long FIRST_NORMAL_OBJECT_ID = 16384;
    private static final Set<String> OBJECT_REFERENCES = Set.of("regclass", "regtype", "regproc", "regprocedure",
        "regoper", "regoperator", "regconfig", "regdictionary", "regnamespace", "regrole", "regcollation");

    private final DSLContext db;
    private final Map<Long, TypeInfo> types = new HashMap<>();

    public LandingTypes(DSLContext db) {
        this.db = db;
    }

    /** How a value of type {@code oid} (with {@code typmod}, -1 when unknown) lands. */
    record Landing(String type, boolean cast, Optional<String> note) {
        static Landing keep(String type) {
            return new Landing(type, false, Optional.empty());
        }
    }

    /**
     * A row of pg_type; {@code array} is whether it is the array type of its element, as opposed to a
     * type that only subscripts like one ({@code int2vector}, {@code point}).
     */
    private record TypeInfo(long oid, String name, String schema, char kind, char category, long element, boolean array,
                            long baseType, int baseTypmod, boolean binaryIo) {
        String qualified() {
            return schema.equals("pg_catalog") ? name : schema + "." + name;
        }
    }

    /** The bronze type of a value of type {@code oid} with {@code typmod}, as format_type prints it. */
    public String bronzeType(long oid, int typmod) {
        return landing(oid, typmod).type();
    }

    Landing landing(long oid, int typmod) {
        TypeInfo type = info(oid);
        if (type.kind() == 'd') {
            Landing base = landing(type.baseType(), type.baseTypmod());
            return new Landing(base.type(), true, Optional.of(base.note()
                .orElse("domain " + type.qualified() + " lands as its base type " + base.type())));
        }
        if (type.array()) {
            Landing element = landing(type.element(), typmod);
            return element.cast()
                ? new Landing(element.type() + "[]", true, element.note())
                : Landing.keep(format(oid, typmod));
        }
        if (builtInAndPortable(type)) {
            return Landing.keep(format(oid, typmod));
        }
        return new Landing("text", true, Optional.of(kind(type) + " " + type.qualified() + " lands as text"
            + (vector(type) ? " (binary COPY cannot carry an empty one)" : "")));
    }

    private static boolean builtInAndPortable(TypeInfo type) {
        return type.oid() < FIRST_NORMAL_OBJECT_ID
            && "brm".indexOf(type.kind()) >= 0
            && type.binaryIo()
            && type.category() != 'Z'
            && !vector(type)
            && !OBJECT_REFERENCES.contains(type.name());
    }

    /** int2vector and oidvector: arrays by category, but not their element's array type, and with binary input of their own. */
    private static boolean vector(TypeInfo type) {
        return type.category() == 'A' && !type.array();
    }

    private static String kind(TypeInfo type) {
        if (OBJECT_REFERENCES.contains(type.name())) {
            return "object reference type";
        }
        if (vector(type)) {
            return "vector type";
        }
        if (!type.binaryIo() && type.kind() == 'b') {
            return "type without binary input and output";
        }
        return switch (type.kind()) {
            case 'e' -> "enum";
            case 'c' -> "composite type";
            case 'p' -> "pseudo-type";
            case 'r', 'm' -> "range type";
            default -> type.oid() < FIRST_NORMAL_OBJECT_ID ? "internal type" : "extension or user-defined type";
        };
    }

    private String format(long oid, int typmod) {
        return db.resultQuery("SELECT pg_catalog.format_type(?::oid, ?)", oid, typmod).fetchOne(0, String.class);
    }

    private TypeInfo info(long oid) {
        return types.computeIfAbsent(oid, this::load);
    }

    private TypeInfo load(long oid) {
        Record r = db.resultQuery("""
            SELECT t.typname, n.nspname, t.typtype::text, t.typcategory::text, t.typelem::bigint,
                   t.typelem <> 0 AND EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid),
                   t.typbasetype::bigint, t.typtypmod, t.typsend::oid <> 0 AND t.typreceive::oid <> 0
            FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
            WHERE t.oid = ?::oid""", oid).fetchOne();
        if (r == null) {
            throw new IllegalStateException("type OID " + oid + " is not in pg_type");
        }
        return new TypeInfo(oid, r.get(0, String.class), r.get(1, String.class), r.get(2, String.class).charAt(0),
            r.get(3, String.class).charAt(0), r.get(4, Long.class), r.get(5, Boolean.class), r.get(6, Long.class), r.get(7, Integer.class),
            r.get(8, Boolean.class));
    }
}
