package datakit.db;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.util.Map;
import javax.sql.DataSource;

/**
 * The warehouse connections as Flyway gets them ({@link DedicatedConnections}): connections on which Flyway's session-level settings become
 * transaction-local. Flyway sets {@code search_path} to the schema it migrates ({@code set_config(...,
 * false)}) and puts its role back ({@code SET ROLE}) for the session; behind a pooler in transaction mode
 * those land on whatever server connection the statement got and stay there for the next client. The
 * datakits' migrations name every object with its schema, so they need neither.
 */
final class PoolSafeDataSource {
    /** Flyway's statements (PostgreSQLConnection) by their start, and the transaction-local form of each. */
    private static final Map<String, String> LOCAL_FORMS = Map.of(
        "SELECT set_config('search_path', ?, false)", "SELECT set_config('search_path', ?, true)",
        "SET ROLE ", "SET LOCAL ROLE ");

    private PoolSafeDataSource() {
    }

    static DataSource around(DataSource pool) {
        return proxy(DataSource.class, pool, (target, method, args) -> {
            Object result = method.invoke(target, args);
            return result instanceof Connection connection ? proxy(Connection.class, connection, PoolSafeDataSource::prepare) : result;
        });
    }

    /** Connection calls, with the SQL of {@code prepareStatement} made transaction-local where Flyway sets something for the session. */
    private static Object prepare(Object connection, Method method, Object[] args) throws ReflectiveOperationException {
        if (method.getName().equals("prepareStatement") && args != null && args.length > 0 && args[0] instanceof String sql) {
            args = args.clone();
            args[0] = local(sql);
        }
        return method.invoke(connection, args);
    }

    static String local(String sql) {
        for (var form : LOCAL_FORMS.entrySet()) {
            if (sql.startsWith(form.getKey())) {
                return form.getValue() + sql.substring(form.getKey().length());
            }
        }
        return sql;
    }

    @FunctionalInterface
    private interface Call {
        Object invoke(Object target, Method method, Object[] args) throws ReflectiveOperationException;
    }

    private static <T> T proxy(Class<T> type, T target, Call call) {
        InvocationHandler handler = (proxy, method, args) -> {
            try {
                return call.invoke(target, method, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }
}
